"""The public API documents itself: every argument of every public function and
method appears in its docstring (what help() shows) and carries a type hint."""
import inspect
import re
import unittest

from helpers import ntkit

CLASSES = ("Network", "Run", "LinearizedNetwork", "KernelGD", "Kernel", "KernelOperator")


def public_callables():
    out = {}
    for name in ntkit.__all__:
        obj = getattr(ntkit, name)
        if inspect.isfunction(obj):
            out["ntkit." + name] = obj
    for name in ntkit.predict.__all__:
        obj = getattr(ntkit.predict, name)
        if inspect.isfunction(obj):
            out["ntkit.predict." + name] = obj
    for cname in CLASSES:
        cls = getattr(ntkit, cname, None) or getattr(ntkit.dynamics, cname)
        for name, obj in vars(cls).items():
            if (name == "__init__" or name == "__call__" or not name.startswith("_")) and \
                    inspect.isfunction(obj):
                out["ntkit.%s.%s" % (cname, name)] = obj
    return out


def arguments(fn):
    return [p for p in inspect.signature(fn).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


class Documentation(unittest.TestCase):
    def test_every_argument_is_documented(self):
        missing = []
        for qual, fn in public_callables().items():
            doc = inspect.getdoc(fn) or ""
            if fn.__name__ == "__init__":   # a class documents its constructor
                doc += inspect.getdoc(getattr(ntkit, qual.split(".")[1], None)) or ""
            for p in arguments(fn):
                if not re.search(r"(?<![\w.])%s(?!\w)" % re.escape(p.name), doc):
                    missing.append("%s: %s" % (qual, p.name))
        self.assertEqual(missing, [])

    def test_every_argument_has_a_type_hint(self):
        missing = ["%s: %s" % (qual, p.name) for qual, fn in public_callables().items()
                   for p in arguments(fn) if p.annotation is inspect.Parameter.empty]
        self.assertEqual(missing, [])

    def test_layer_in_help_of_ntk(self):
        # the example: help(ntkit.ntk) did not mention layer=
        self.assertIn("layer:", inspect.getdoc(ntkit.ntk))
        self.assertIn('"second"', inspect.getdoc(ntkit.ntk))

    def test_the_check_can_fail(self):
        def undocumented(a: int, b: int):
            """Uses a only."""
        doc = inspect.getdoc(undocumented)
        self.assertIsNone(re.search(r"(?<![\w.])b(?!\w)", doc))


if __name__ == "__main__":
    unittest.main()


class ReadmeExamples(unittest.TestCase):
    def test_python_section_runs(self):
        # the README's Python code blocks, in order, as a user would paste them
        import os
        from helpers import REPO
        with open(os.path.join(REPO, "README.md")) as fp:
            text = fp.read()
        section = text[text.index("\n## Python\n"):]
        section = section[:section.index("\n## ", 1)]
        blocks = re.findall(r"```python\n(.*?)```", section, re.S)
        self.assertGreaterEqual(len(blocks), 2)
        scope = {}
        for code in blocks:
            exec(compile(code, "README.md (Python)", "exec"), scope)
        post = scope["posterior"]
        self.assertEqual(post.covariance.shape, (50, 50))
        self.assertEqual(scope["fx_test_t"].shape, (3, 50, 1))
        self.assertEqual(scope["hist"]["f"].shape, (5, 5))
