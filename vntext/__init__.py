"""Vietnamese text as citizens type it: normalisation and folding (`normalize`), and a BM25 matcher with
typo correction (`engine`). A library layer under the core: the FAQ, the hotline search and the commune
search of the report flow all use it; it imports nothing of the bot."""
