"""The pipeline's steps, one module each, numbered in the order a run takes them.

s1_discover → s2_clean → s3_fingerprint → s4_dedup → s5_summarise → s6_tag → s7_stories → s8_report.
`records` holds the plain data passed between them; `text/` the text helpers they share; `sources/`
the feed side (HTTP, feeds, source health, URLs). The Prefect tasks that run these steps live in
`flows/stages.py`; everything here is plain functions, testable without Prefect.
"""
