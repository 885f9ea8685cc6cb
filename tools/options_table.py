#!/usr/bin/env python3
"""Print README.rst's "Server options" table, generated from the registry.

The options of ``engineio_sync.Server`` are described once, in
``engineio_sync.core.config.OPTIONS``; this renders them as the RST simple
table of the README. ``tests/core/test_options_table.py`` fails when the
README's table differs from this output.

Usage (from the repository root)::

    python tools/options_table.py            # print the table
    python tools/options_table.py --check    # exit 1 if README.rst differs
    python tools/options_table.py --write    # put the table into README.rst
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.rst')
SECTION = 'Server options\n--------------\n'

# Run as a script, tools/ (not the repository) is on sys.path; make the
# checkout's package importable without installing it.
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from engineio_sync.core.config import OPTIONS, Option  # noqa: E402

HEADINGS = ('option', 'default', 'meaning')
#: the meaning column's width; the others fit their widest cell
MEANING_WIDTH = 48


def render_table(options: Sequence[Option] = OPTIONS) -> str:
    """The RST simple table of ``options``: name, default and doc, the doc
    wrapped over continuation rows. Ends with a newline."""
    rows = [(f'``{o.name}``', o.default_text, o.doc_lines(MEANING_WIDTH))
            for o in options]
    name_width = max(len(HEADINGS[0]), *(len(r[0]) for r in rows))
    default_width = max(len(HEADINGS[1]), *(len(r[1]) for r in rows))
    border = '  '.join(('=' * name_width, '=' * default_width,
                        '=' * MEANING_WIDTH))

    def line(name: str, default: str, meaning: str) -> str:
        return f'{name:<{name_width}}  {default:<{default_width}}  ' \
               f'{meaning}'.rstrip()

    out = [border, line(*HEADINGS), border]
    for name, default, meaning in rows:
        out.append(line(name, default, meaning[0]))
        # A blank first column makes these continuation lines of the row.
        out.extend(line('', '', more) for more in meaning[1:])
    out.append(border)
    return '\n'.join(out) + '\n'


def find_table(text: str) -> tuple[int, int]:
    """Start and end offsets of the first table in the README's "Server
    options" section (its three border lines included, and the newline
    after the last); ValueError when there is none."""
    section = text.find(SECTION)
    if section < 0:
        raise ValueError('README.rst has no "Server options" section')
    offset = section + len(SECTION)
    start = end = -1
    borders = 0
    for raw in text[offset:].splitlines(keepends=True):
        stripped = raw.strip()
        if stripped and set(stripped) <= {'=', ' '}:
            if start < 0:
                start = offset
            borders += 1
            if borders == 3:
                end = offset + len(raw)
                break
        elif start < 0 and stripped and set(stripped) <= set('-=~^'):
            break  # the next section began before any table
        offset += len(raw)
    if end < 0:
        raise ValueError('no options table in the "Server options" section')
    return start, end


def readme_table(text: str) -> str:
    """The options table as it stands in README text ``text``."""
    start, end = find_table(text)
    return text[start:end]


def main(argv: Sequence[str] | None = None) -> int:
    """Print, check or write the table; the exit status for ``--check``."""
    parser = argparse.ArgumentParser(
        description="Print, check or write README.rst's options table.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--check', action='store_true',
                      help='exit 1 if the README table is out of date')
    mode.add_argument('--write', action='store_true',
                      help="replace the README's table with the generated one")
    parser.add_argument('--readme', default=README,
                        help='the README to check or write')
    args = parser.parse_args(argv)
    table = render_table()
    if not (args.check or args.write):
        sys.stdout.write(table)
        return 0
    with open(args.readme, encoding='utf-8') as f:
        text = f.read()
    start, end = find_table(text)
    if args.check:
        if text[start:end] != table:
            print(f'{args.readme}: the options table is out of date; run '
                  'python tools/options_table.py --write', file=sys.stderr)
            return 1
        return 0
    with open(args.readme, 'w', encoding='utf-8') as f:
        f.write(text[:start] + table + text[end:])
    return 0


if __name__ == '__main__':
    sys.exit(main())
