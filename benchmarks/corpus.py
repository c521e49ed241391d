"""A deterministic corpus of posts shaped like the fixture, for benchmarks.

    python benchmarks/corpus.py DIR COUNT [--seed N]

Same front-matter keys as ../shared/fixtures (title, id, type, slug, published_at,
modified_at, url, markdown_url, excerpt, taxonomy_category, taxonomy_post_tag);
3-20 KB bodies with the export's theme chrome, headings, lists, medical and
affiliate disclosures and affiliate links; dates spread over ten years, a fifth
modified later; ten shared categories and sixty shared tags.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SITE = "https://driftly.blog/"
CATEGORIES = [
    "Sleep",
    "Wellness",
    "Food",
    "Habits",
    "Light",
    "Stress",
    "Movement",
    "Tea",
    "Science",
    "Notes",
]
TAGS = [f"tag {n}" for n in range(60)]
WORDS = (
    "sleep gut melatonin evening morning light kefir oats walnuts fibre research study "
    "habit routine body clock cortisol serotonin tryptophan bacteria rest quiet walk tea "
    "chamomile magnesium window lamp night dream brain caffeine noon nap calm breath"
).split()
START = datetime(2016, 1, 1, tzinfo=UTC)


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(3, 7)))


def post(number: int, rng: random.Random) -> tuple[str, str]:
    slug = f"post-{number:06d}-{rng.choice(WORDS)}-{rng.choice(WORDS)}"
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).title()
    published = START + timedelta(seconds=rng.randint(0, 10 * 365 * 86400))
    modified = published + timedelta(days=rng.randint(1, 400)) if rng.random() < 0.2 else published
    categories = rng.sample(CATEGORIES, rng.randint(1, 2))
    tags = rng.sample(TAGS, rng.randint(2, 5))
    target = rng.randint(3_000, 20_000)
    body = [
        f"[{categories[0]}]({SITE}category/{categories[0].lower()}/)",
        f"# {title}",
        "marina",
        f"{published:%B} {published.day}, {published.year}",
        paragraph(rng),
        "⚕️ **Medical disclosure:** This post shares general information. It is not medical advice.",
        "🔗 **Affiliate disclosure:** This post contains affiliate links. I may earn a "
        "small commission at no extra cost to you.",
    ]
    size = sum(map(len, body))
    while size < target:
        piece = rng.choice(["p", "p", "p", "h", "list", "aff"])
        if piece == "h":
            text = "### " + sentence(rng).rstrip(".")
        elif piece == "list":
            text = "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(2, 5)))
        elif piece == "aff":
            link = f"https://amzn.to/{rng.randrange(16**6):06x}"
            text = f"{sentence(rng)} [Rolled Oats]({link})\n are on my counter."
        else:
            text = paragraph(rng)
        body.append(text)
        size += len(text)
    body += [
        "Tagged: " + "\n, ".join(f"[{t}]({SITE}tag/{t.replace(' ', '-')}/)" for t in tags),
        "Written by",
        "### Marina",
        "A small, slow blog about sleep, wellness, and a quieter mind.",
        f"### Leave a Reply [Cancel reply](/{slug}/#respond)",
    ]
    front = "\n".join(
        [
            "---",
            f'title: "{title}"',
            f'id: "{number}"',
            'type: "post"',
            f'slug: "{slug}"',
            f'published_at: "{published.isoformat()}"',
            f'modified_at: "{modified.isoformat()}"',
            f'url: "{SITE}{slug}/"',
            f'markdown_url: "{SITE}{slug}.md"',
            f'excerpt: "{sentence(rng)[:120]}…"',
            "taxonomy_category:",
            *[f'  - "{c}"' for c in categories],
            "taxonomy_post_tag:",
            *[f'  - "{t}"' for t in tags],
            "---",
        ]
    )
    return f"{published.year}/{slug}.md", front + "\n\n" + "\n\n".join(body) + "\n"


def generate(folder: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    for number in range(1, count + 1):
        name, text = post(number, rng)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    generate(arguments.folder, arguments.count, arguments.seed)
