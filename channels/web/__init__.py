"""The ``web`` channel: a chat widget any portal embeds with one ``<script>`` line, and the bot's public
front page. See :mod:`channels.web.adapter` (the adapter), :mod:`channels.web.store` (history and uploads),
:mod:`channels.web.site` (``/``, the hotline directory, security headers) and ``static/`` (the widget)."""
