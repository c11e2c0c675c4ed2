"""A fix for the jupyter-book 1.x stack (Sphinx 7.4), loaded from _config.yml (sphinx.local_extensions).

Sphinx 7.4 writes every inline ``<script>`` that an extension registers after the builder starts
twice (``app.add_js_file(None, body=...)`` reaches the builder once with filename ``None`` and once
with ``''``).  sphinx-thebe's ``const THEBE_JS_URL = ...`` then raises "Identifier 'THEBE_JS_URL' has
already been declared" in every page.  Fixed upstream in sphinx-doc/sphinx#13402 (Sphinx 8.x; jupyter-book
1.x requires Sphinx 7); we apply the same normalisation.
"""
from sphinx.builders.html import StandaloneHTMLBuilder

_add_js_file = StandaloneHTMLBuilder.add_js_file


def _add_js_file_normalised(self, filename, **kwargs):
    return _add_js_file(self, filename or "", **kwargs)


def setup(app):
    if getattr(StandaloneHTMLBuilder.add_js_file, "__name__", "") != "_add_js_file_normalised":
        StandaloneHTMLBuilder.add_js_file = _add_js_file_normalised
    return {"parallel_read_safe": True, "parallel_write_safe": True}
