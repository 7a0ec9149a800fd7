#!/usr/bin/env python3
"""Checks that every relative link in the repository's Markdown resolves
inside the repository.

Scans every Markdown file git knows of (README.md, docs/, bindings/*/README.md,
...), outside fenced code blocks and code spans: inline links and images,
reference definitions and HTML href/src attributes. A link with a scheme
(https:, mailto:) is not followed. A relative link must name an existing
file or directory of the checkout, after resolving `..`, that lies inside
the repository (so nothing may point at ../shared or another checkout); a
#fragment must match a heading of the target Markdown file (GitHub's
anchors). Prints one line per broken link; exits 1 if there is any.

Usage: scripts/check-links.py   (from anywhere)
"""
import os
import re
import subprocess
import sys

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HTML = re.compile(r"\b(?:href|src)\s*=\s*\"([^\"]+)\"")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.md"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [f for f in out.splitlines() if os.path.isfile(os.path.join(ROOT, f))]


def prose(text):
    """The text without fenced code blocks and code spans (same line count)."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else re.sub(r"(`+)[^`]*?\1", "", line))
    return "\n".join(lines)


def check(rel):
    path = os.path.join(ROOT, rel)
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    text = prose(raw)
    problems = []
    targets = INLINE.findall(text) + REFDEF.findall(text) + HTML.findall(text)
    for target in targets:
        if SCHEME.match(target):
            continue
        dest, _, fragment = target.partition("#")
        if dest:
            resolved = os.path.realpath(os.path.join(os.path.dirname(path), dest))
        else:
            resolved = os.path.realpath(path)
        if os.path.commonpath([resolved, ROOT]) != ROOT:
            problems.append(f"{rel}: {target} points outside the repository")
            continue
        if not os.path.exists(resolved):
            problems.append(f"{rel}: {target} does not exist")
            continue
        if fragment and resolved.endswith(".md") and fragment not in anchors_with_code(resolved):
            problems.append(f"{rel}: {target}: no heading #{fragment} in {os.path.relpath(resolved, ROOT)}")
    return problems, len(targets)


def anchors_with_code(path):
    """GitHub anchors of a Markdown file: its headings, code spans included."""
    seen, result, fenced = {}, set(), False
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if re.match(r"^\s*(```|~~~)", line):
                fenced = not fenced
                continue
            m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def main():
    problems, links, files = [], 0, markdown_files()
    for rel in files:
        p, n = check(rel)
        problems += p
        links += n
    for p in problems:
        print(p)
    print(f"{links} links in {len(files)} Markdown files, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
