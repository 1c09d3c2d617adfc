"""Matching papers to subscriptions: normalising text, compiling keywords, finding matches."""
