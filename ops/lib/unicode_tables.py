#!/usr/bin/env python3
"""Writes src/NfcPipeline.Intake/UnicodeTables.cs: canonical decompositions of the composed letters names use (Latin,
Greek, Cyrillic, kana) and the combining classes of their marks, from Python's unicodedata. The worker runs with
invariant globalization, where string.Normalize leaves such letters as they are; UnicodeNames compares names with
these tables instead. Run: /usr/bin/python3 ops/lib/unicode_tables.py"""
import os
import unicodedata
# Letters with marks, marks that decompose alone (U+0340-0344), and the Ohm, Kelvin and Angstrom signs.
ranges=[(0xC0,0x2FF),(0x340,0x344),(0x370,0x3FF),(0x400,0x52F),(0x1E00,0x1FFF),(0x2126,0x212B),(0x3040,0x30FF)]
entries=[]
for a,b in ranges:
    for cp in range(a,b+1):
        c=chr(cp); d=unicodedata.normalize('NFD',c)
        if d!=c and ';' not in d: entries.append(c+d)
marks=[]
for cp in list(range(0x300,0x370))+list(range(0x483,0x488))+[0x3099,0x309A]:
    cc=unicodedata.combining(chr(cp))
    if cc: marks.append((cp,cc))
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
