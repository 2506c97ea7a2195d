// The dashboard's label paste parser (web/src/lib/labels.ts): CSV with a header and JSON lines
// become submitLabelBatch's LabelInput list; quoted CSV fields, numbers vs text labels, and an
// optional row index; every bad line is named by its number and nothing is returned while one is bad.
import { describe, expect, it } from 'vitest';
import { csvFields, parseLabels } from '../../web/src/lib/labels.ts';

describe('label paste parser', () => {
  it('reads CSV with a header in any column order, numbers as numbers and text as text', () => {
    const text = 'label,client_request_id,row_index\n1,r-1,0\n"cat, tabby",r-2,\n0.5,"r-""3""",2\n\n';
    expect(parseLabels(text, 'CSV')).toEqual({
      labels: [
        { clientRequestId: 'r-1', label: 1, rowIndex: 0 },
        { clientRequestId: 'r-2', label: 'cat, tabby' },
        { clientRequestId: 'r-"3"', label: 0.5, rowIndex: 2 },
      ],
      errors: [],
    });
    expect(csvFields('a,"b,c",""')).toEqual(['a', 'b,c', '']);
  });

  it('reads JSON lines with snake_case or camelCase keys and any JSON label', () => {
    const text = '{"client_request_id": "r-1", "label": 2}\n{"clientRequestId": "r-2", "rowIndex": 1, "label": {"class": "b"}}';
    expect(parseLabels(text, 'JSONL')).toEqual({
      labels: [
        { clientRequestId: 'r-1', label: 2 },
        { clientRequestId: 'r-2', rowIndex: 1, label: { class: 'b' } },
      ],
      errors: [],
    });
  });

  it('names every bad line and returns no labels', () => {
    expect(parseLabels('id,label\nr-1,1', 'CSV')).toEqual({ labels: [], errors: [expect.stringMatching(/^line 1: the header must name client_request_id and label/)] });
    const csv = parseLabels('client_request_id,label,row_index\nr-1,1,0\n,1,0\nr-3,,0\nr-4,1,-1\nr-5,1,x', 'CSV');
    expect(csv.labels).toEqual([]);
    expect(csv.errors).toEqual([
      'line 3: client_request_id and label are required',
      'line 4: client_request_id and label are required',
      'line 5: row_index must be a non-negative integer, not "-1"',
      'line 6: row_index must be a non-negative integer, not "x"',
    ]);
    const jsonl = parseLabels('{"client_request_id": "r-1", "label": 1}\nnot json\n[1]\n{"client_request_id": 7, "label": 1}\n{"client_request_id": "r-5"}', 'JSONL');
    expect(jsonl.labels).toEqual([]);
    expect(jsonl.errors).toEqual([
      'line 2: not JSON',
      'line 3: expected an object like {"client_request_id": "r-1", "label": 1}',
      'line 4: client_request_id (a string) and label are required',
      'line 5: client_request_id (a string) and label are required',
    ]);
    expect(parseLabels('client_request_id,label\n', 'CSV').errors).toEqual(['no label rows under the header']);
    expect(parseLabels('  \n', 'JSONL').errors).toEqual(['no labels']);
  });
});
