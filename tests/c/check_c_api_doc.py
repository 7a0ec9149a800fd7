#!/usr/bin/env python3
"""Keeps docs/c-api.md and include/persistency.h in step.

Every function the header declares must have a section in the document
(a heading naming it) whose C code block repeats its prototype, with the
same return type, name and parameter types and names (`struct` keywords and
white space aside); the document may not describe a function the header
lacks; every PERSISTENCY_* constant of the header must be named in it.

Usage: check_c_api_doc.py include/persistency.h docs/c-api.md
Prints one line per problem and exits 1 if there is any.
"""
import re
import sys

PROTOTYPE = re.compile(r"([A-Za-z_][\w \t*]*?\bpersistency_\w+)\s*\(([^;{}()]*(?:\([^()]*\)[^;{}()]*)*)\)\s*;")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def normalise(decl):
    decl = re.sub(r"\bstruct\s+", "", decl)
    decl = re.sub(r"\s*\*\s*", " * ", decl)
    decl = re.sub(r"\s*,\s*", ", ", decl)
    return re.sub(r"\s+", " ", decl).strip()


def prototypes(text):
    """name -> normalised prototype, for every function declaration in text."""
    found = {}
    for m in PROTOTYPE.finditer(strip_comments(text)):
        head, params = m.group(1), m.group(2)
        if head.lstrip().startswith("typedef") or "(*" in head:
            continue
        name = re.search(r"(persistency_\w+)$", head.strip()).group(1)
        found[name] = normalise(f"{head}({params})")
    return found


def main(header_path, doc_path):
    header = open(header_path, encoding="utf-8").read()
    doc = open(doc_path, encoding="utf-8").read()
    body = header.split('extern "C" {', 1)[-1]
    in_header = prototypes(body)
    code = "\n".join(re.findall(r"```c\n(.*?)```", doc, flags=re.S))
    in_doc = prototypes(code)
    headings = set(re.findall(r"^#+ .*?`(persistency_\w+)`", doc, flags=re.M))
    problems = []
    for name, proto in sorted(in_header.items()):
        if name not in headings:
            problems.append(f"{name}: no section (a heading naming it) in {doc_path}")
        if name not in in_doc:
            problems.append(f"{name}: no prototype in a ```c block of {doc_path}")
        elif in_doc[name] != proto:
            problems.append(f"{name}: prototype differs\n  header: {proto}\n  doc:    {in_doc[name]}")
    for name in sorted(set(in_doc) - set(in_header)):
        problems.append(f"{name}: documented but not declared in {header_path}")
    for name in sorted(headings - set(in_header)):
        problems.append(f"{name}: has a section but is not declared in {header_path}")
    for const in sorted(set(re.findall(r"^#define (PERSISTENCY_\w+)", header, flags=re.M))):
        if const != "PERSISTENCY_H" and const not in doc:
            problems.append(f"{const}: constant not mentioned in {doc_path}")
    for p in problems:
        print(p)
    print(f"{len(in_header)} functions in the header, {len(in_doc)} documented, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
