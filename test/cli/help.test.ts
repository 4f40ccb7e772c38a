/**
 * The help printer: descriptions wrap at word boundaries under the column limit, paragraphs stay
 * apart, and every command's help (usage and examples aside) fits in 100 columns.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { commandHelp, wrapText } from '../../src/cli/main.js';
import { commands } from '../../src/cli/commands/index.js';

it('wrapText breaks at spaces within the width and keeps every word in order', () => {
  const text = 'alpha beta gamma delta epsilon zeta eta theta';
  const lines = wrapText(text, 12);
  assert.deepEqual(lines, ['alpha beta', 'gamma delta', 'epsilon zeta', 'eta theta']);
  assert.equal(lines.join(' '), text);
});

it('wrapText gives an over-long word its own line and keeps paragraphs separate', () => {
  assert.deepEqual(wrapText('a https://example.org/very/long/path b\nsecond paragraph', 10), [
    'a',
    'https://example.org/very/long/path',
    'b',
    'second',
    'paragraph',
  ]);
});

it('every command help fits in 100 columns apart from usage and example lines', () => {
  for (const command of commands) {
    const help = commandHelp(command);
    const [, ...afterUsage] = help.split('\nOptions:')[0]!.split('\n\n');
    const body = [...afterUsage, help.split('\nOptions:')[1]!.split('\nExamples:')[0]!].join('\n');
    for (const line of body.split('\n')) {
      assert.ok(line.length <= 100, `${command.name}: ${line.length} columns: ${line}`);
    }
  }
});
