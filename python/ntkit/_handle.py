"""Ownership of one C handle, shared by the classes that wrap one."""
from ._lib import lib


class Owned:
    """Owns one C handle (self._h); close() frees it once with the class's
    `_free` function (idempotent), also on garbage collection and at the end
    of a `with` block."""

    _free = None        # name of the ntk_*_free function
    _what = "object"    # for the message after close()
    _h = None

    def close(self):
        """Free the C object now (idempotent)."""
        h, self._h = self._h, None
        if h is not None and lib is not None:
            getattr(lib, self._free)(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self):
        """The C pointer (ctypes.c_void_p); ValueError after close()."""
        if self._h is None:
            raise ValueError("the %s has been closed" % self._what)
        return self._h
