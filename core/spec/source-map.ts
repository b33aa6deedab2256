/**
 * Where each field of a parsed document came from: a map from field paths (`['steps', 'train', 'with', 'lr']`) to
 * offsets in the source text, and offsets to 1-based line and column. Built by `parse.ts`; plain data, so the
 * validator uses it without depending on the YAML parser.
 */

/** One step of a field path: a mapping key or a list index. */
export type PathSegment = string | number;

/** A 1-based position in a source file. Columns count UTF-16 code units, like editors and the YAML parser. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** Where one node of the document is. */
export interface SourceEntry {
  /** Offset of the mapping key that holds the node, if it is held by one. */
  keyOffset?: number;
  /** Offset of the node itself (of the key, when the value is empty). */
  valueOffset: number;
  /** For string scalars: offset of the first character of the value in the source, when the source spells the value
   * verbatim from there (plain or quoted without escapes), so positions inside the string can be mapped exactly. */
  verbatimOffset?: number;
}

/** The key under which an entry of a path is stored. */
export function pathKey(path: readonly PathSegment[]): string {
  return JSON.stringify(path);
}

/** Positions of the fields of one parsed document. */
export class SourceMap {
  /**
   * @param lineStarts offsets at which each line starts (the first is 0), as the YAML parser's `LineCounter` has them
   * @param entries source entries by {@link pathKey}
   */
  constructor(
    private readonly lineStarts: readonly number[],
    private readonly entries: ReadonlyMap<string, SourceEntry>,
  ) {}

  /** The 1-based line and column of an offset. */
  position(offset: number): SourcePosition {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.lineStarts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - (this.lineStarts[low] ?? 0) + 1 };
  }

  /** The entry of a path, or of its nearest ancestor that has one (a missing field is reported at its parent). */
  private nearest(path: readonly PathSegment[]): { entry: SourceEntry; exact: boolean } | undefined {
    for (let length = path.length; length >= 0; length -= 1) {
      const entry = this.entries.get(pathKey(path.slice(0, length)));
      if (entry !== undefined) return { entry, exact: length === path.length };
    }
    return undefined;
  }

  /**
   * Where a field is: its key (`target: 'key'`, for unknown or repeated fields) or its value. A path that does not
   * exist in the document (a missing field) resolves to its nearest ancestor.
   */
  locate(path: readonly PathSegment[], target: 'key' | 'value' = 'value'): SourcePosition | undefined {
    const found = this.nearest(path);
    if (found === undefined) return undefined;
    const { entry, exact } = found;
    const offset = target === 'key' && exact ? (entry.keyOffset ?? entry.valueOffset) : entry.valueOffset;
    return this.position(offset);
  }

  /** Where character `index` of a string field is, falling back to the field itself when that is not exact. */
  locateInString(path: readonly PathSegment[], index: number): SourcePosition | undefined {
    const found = this.nearest(path);
    if (found?.exact === true && found.entry.verbatimOffset !== undefined) {
      return this.position(found.entry.verbatimOffset + index);
    }
    return this.locate(path);
  }
}
