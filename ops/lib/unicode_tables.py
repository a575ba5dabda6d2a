#!/usr/bin/env python3
"""Writes src/NfcPipeline.Intake/UnicodeTables.cs: the canonical decompositions of the Basic Multilingual Plane (Hangul
syllables are decomposed arithmetically) and the combining classes of its marks, from Python's unicodedata. The worker runs with
invariant globalization, where string.Normalize leaves such letters as they are; UnicodeNames compares names with
these tables instead. Run: /usr/bin/python3 ops/lib/unicode_tables.py"""
import os
import unicodedata
# Every script's composed letters (Latin, Greek, Cyrillic, Arabic, Hebrew, Indic, kana, ...): names are keyed one
# UTF-16 unit at a time, so the plane beyond it and the surrogates are left out, and Hangul is done in code.
def bmp():
    return (cp for cp in range(0x80, 0x10000) if not (0xAC00 <= cp <= 0xD7A3 or 0xD800 <= cp <= 0xDFFF))
entries=[]
for cp in bmp():
    c=chr(cp); d=unicodedata.normalize('NFD',c)
    if d!=c and ';' not in d and all(ord(ch) < 0x10000 for ch in d): entries.append(c+d)
marks=[(cp, unicodedata.combining(chr(cp))) for cp in bmp() if unicodedata.combining(chr(cp))]
def esc(s): return ''.join('\\u%04X'%ord(ch) for ch in s)
out=[]
out.append('namespace NfcPipeline.Intake;\n')
out.append('// Generated from Python\'s unicodedata (Unicode %s) by ops/lib/unicode_tables.py; do not edit by hand.' % unicodedata.unidata_version)
out.append('internal static class UnicodeTables\n{')
out.append('    /// <summary>Each entry: a composed letter, then its full canonical decomposition (NFD); entries end with \';\'.</summary>')
out.append('    public const string Decompositions =')
def literal(pieces):
    """A C# string constant's lines: the pieces concatenated, wrapped at 118 columns."""
    lines, line = [], '        "'
    for piece in pieces:
        if len(line) + len(piece) > 118:
            lines.append(line + '" +')
            line = '        "'
        line += piece
    return lines + [line + '";']


out += literal(esc(e) + ';' for e in entries)
out.append('')
out.append('    /// <summary>Combining marks and their canonical combining class: pairs of characters (mark, class as a char).</summary>')
out.append('    public const string CombiningClasses =')
out += literal('\\u%04X\\u%04X' % (cp, cc) for cp, cc in marks)
out.append('}')
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'NfcPipeline.Intake', 'UnicodeTables.cs'), 'w').write('\n'.join(out)+'\n')
print(len(entries), len(marks))
