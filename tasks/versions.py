"""Stage versions: stored with every result so the warehouse shows which code and settings made it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from config.settings import DedupSettings, SummarySettings, TagSettings

# Bump a number when the stage's code changes what it produces for the same input.
CLEAN_VERSION = 2  # 2: a byline after the lead leaves the text; a feed names the site a page does not
DEDUP_VERSION = 3  # 2: facts weigh more in the signature; 3: a near copy keeps its original's facts (exact check)
SUMMARY_VERSION = 2  # 2: the news sentence scorer
TAG_VERSION = 2  # 2: calibrated issue models beside the keywords


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    except OSError:
        return "missing"


def stage_versions(dedup: DedupSettings, summary: SummarySettings, tags: TagSettings) -> dict[str, str]:
    """Version labels for each stage: code version plus the settings that shape its output."""
    return {
        "clean": f"clean-{CLEAN_VERSION}",
        "dedup": (f"dedup-{DEDUP_VERSION}/w{dedup.shingle_words}/p{dedup.num_perm}"
                  f"/n{dedup.near_threshold:g}/s{dedup.story_threshold:g}"),
        "summary": f"summary-{SUMMARY_VERSION}/{summary.algorithm}/k{summary.sentences}",
        "story_summary": f"summary-{SUMMARY_VERSION}/story/k{summary.story_sentences}",
        "tag": f"tag-{TAG_VERSION}/taxonomy-{_file_digest(tags.taxonomy)}/min{tags.min_score:g}/max{tags.max_tags}",
    }
