"""Library calls that Ctrl-C can stop.

While a C call runs, Python only notes a Ctrl-C (its handler runs between
bytecodes), so a long call could not be interrupted. stoppable() runs the
call in a worker thread (ctypes releases the GIL) while the calling thread
waits; Ctrl-C sets the call's cancel flag, the library stops at its next
check, and KeyboardInterrupt is raised once the worker has returned, so the
objects the call uses are never freed while the library works on them. A
second Ctrl-C sets the hurry flag (where the call has one: the run driver
then skips its final computations) and does not cut that wait short.
"""
import _thread
import threading


def stoppable(call, cancel, hurry=None):
    """call()'s result, with call() run in a worker thread; Ctrl-C sets
    cancel.value = 1 (a second one hurry.value = 1) and re-raises
    KeyboardInterrupt after the worker has returned. The worker's own
    exceptions are re-raised here. The caller resets the flags beforehand and
    reads ntk_errmsg() inside call(): the message is per thread."""
    box, done, lock = [], threading.Event(), threading.Lock()
    state = {"running": False, "abandoned": False}

    def work():
        with lock:
            if state["abandoned"]:   # the caller gave up before this thread began
                done.set()
                return
            state["running"] = True
        try:
            box.append(call())
        except BaseException as e:   # e.g. a ctypes ArgumentError: re-raised below
            box.append(e)
        finally:
            done.set()

    def settle():   # idempotent: safe to start again after another Ctrl-C
        cancel.value = 1
        with lock:
            if not state["running"]:
                state["abandoned"] = True   # the worker, if it ever starts, does nothing
        while state["running"] and not done.is_set():
            done.wait(0.1)

    # _thread.start_new_thread and Event.wait rather than Thread.start/join: a
    # KeyboardInterrupt inside Thread.join can leave a running thread marked as stopped
    # (CPython 3.11), and the objects must never be freed while the library uses them.
    try:
        _thread.start_new_thread(work, ())
        while not done.wait(0.1):
            pass
    except BaseException:
        while True:
            try:
                settle()
                break
            except KeyboardInterrupt:   # pressed again: finish without the extras
                if hurry is not None:
                    hurry.value = 1
        raise
    res = box[0]
    if isinstance(res, BaseException):
        raise res
    return res
