"""The programme apps sit side by side between messaging and campaigns: catalog
imports neither surveys nor loyalty, and they do not import catalog."""

from __future__ import annotations

from tests.test_code_quality import ROOT, _imports, _sources

SIBLINGS = ("catalog", "surveys", "loyalty")


def test_catalog_and_its_siblings_do_not_import_each_other():
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for top in SIBLINGS
        for path in _sources(top)
        for name in _imports(path)
        if name.split(".")[0] in SIBLINGS and name.split(".")[0] != top
    ]
    assert not wrong, "\n".join(wrong)
