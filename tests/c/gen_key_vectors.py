#!/usr/bin/env python3
"""Turn tests/data/keys.json into a C include for the key-builder tests.

Usage: gen_key_vectors.py KEYS_JSON OUT_H

Every byte sequence becomes a uint8_t array (no string literals, so no
C99 length limits and no escaping pitfalls); `str` parts carry a trailing
NUL so they can be passed to persistency_key_push_str, and a flag saying
whether the string itself contains a NUL byte (those go through
persistency_key_push_bytes, whose encoding is the same).
"""
import json
import sys

KINDS = {
    "str": "KV_STR",
    "bytes": "KV_BYTES",
    "raw": "KV_RAW",
    "i64": "KV_I64",
    "i32": "KV_I64",
    "u64": "KV_U64",
    "u16": "KV_U64",
    "u8": "KV_U8",
    "bool": "KV_BOOL",
}


def byte_array(name, data):
    """A static array definition, or None for empty data (C99 has no empty arrays)."""
    if not data:
        return None
    body = ",".join(str(b) for b in data)
    return f"static const uint8_t {name}[{len(data)}] = {{{body}}};"


def i64_literal(v):
    if v == -(2**63):
        return "(-INT64_C(9223372036854775807) - 1)"
    return f"INT64_C({v})"


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        cases = json.load(f)["cases"]

    defs = []
    case_inits = []
    for ci, case in enumerate(cases):
        part_inits = []
        for pi, part in enumerate(case["parts"]):
            kind = part["type"]
            if kind not in KINDS:
                sys.exit(f"case {ci}: unknown part type {kind!r}")
            name = f"kv_c{ci}_p{pi}"
            data, i64, u64, has_nul = b"", 0, 0, 0
            if kind == "str":
                data = part["value"].encode("utf-8")
                has_nul = int(b"\0" in data)
                arr = byte_array(name, data + b"\0")
            elif kind in ("bytes", "raw"):
                data = bytes.fromhex(part["hex"])
                arr = byte_array(name, data)
            else:
                arr = None
                if kind in ("i64", "i32"):
                    i64 = int(part["value"])
                elif kind == "bool":
                    u64 = int(bool(part["value"]))
                else:
                    u64 = int(part["value"])
            if arr:
                defs.append(arr)
            ptr = name if arr else "NULL"
            part_inits.append(
                f"{{{KINDS[kind]}, \"{kind}\", {ptr}, {len(data)}u, {has_nul}, "
                f"{i64_literal(i64)}, UINT64_C({u64})}}"
            )
        parts_name = "NULL"
        if part_inits:
            parts_name = f"kv_c{ci}_parts"
            defs.append(
                f"static const kv_part {parts_name}[{len(part_inits)}] = {{\n    "
                + ",\n    ".join(part_inits)
                + "\n};"
            )
        key = bytes.fromhex(case["key_hex"])
        stop = bytes.fromhex(case["prefix_stop_hex"])
        key_arr = byte_array(f"kv_c{ci}_key", key)
        stop_arr = byte_array(f"kv_c{ci}_stop", stop)
        for arr in (key_arr, stop_arr):
            if arr:
                defs.append(arr)
        case_inits.append(
            f"{{{parts_name}, {len(part_inits)}u, "
            f"{f'kv_c{ci}_key' if key_arr else 'NULL'}, {len(key)}u, "
            f"{f'kv_c{ci}_stop' if stop_arr else 'NULL'}, {len(stop)}u}}"
        )

    with open(out, "w", encoding="utf-8") as f:
        f.write("/* Generated from tests/data/keys.json by tests/c/gen_key_vectors.py. */\n")
        f.write("#ifndef KEY_VECTORS_H\n#define KEY_VECTORS_H\n\n")
        f.write("#include <stddef.h>\n#include <stdint.h>\n\n")
        f.write("/** How a part is pushed onto a key. */\n")
        f.write("enum kv_kind { KV_STR, KV_BYTES, KV_RAW, KV_I64, KV_U64, KV_U8, KV_BOOL };\n\n")
        f.write("/** One part of a vector: bytes for str/bytes/raw, i64 or u64 otherwise. */\n")
        f.write("typedef struct kv_part {\n    int kind;\n    const char *type_name;\n"
                "    const uint8_t *bytes; /* str: NUL-terminated */\n    size_t len;\n"
                "    int has_nul;\n    int64_t i64;\n    uint64_t u64;\n} kv_part;\n\n")
        f.write("/** One vector: its parts, the encoded key and its prefix stop. */\n")
        f.write("typedef struct kv_case {\n    const kv_part *parts;\n    size_t n_parts;\n"
                "    const uint8_t *key;\n    size_t key_len;\n"
                "    const uint8_t *stop;\n    size_t stop_len;\n} kv_case;\n\n")
        f.write("\n".join(defs))
        f.write(f"\n\nstatic const kv_case kv_cases[{len(case_inits)}] = {{\n    ")
        f.write(",\n    ".join(case_inits))
        f.write("\n};\n\n#define KV_CASE_COUNT " + str(len(case_inits)) + "u\n\n#endif\n")


if __name__ == "__main__":
    main()
