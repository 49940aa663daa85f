import type { Digest } from '../../audit/digest';
import { digestSections, formatPeriod, type DigestStyle } from '../../audit/digest-render';
import {
  context,
  divider,
  fallback,
  header,
  section,
  type Block,
  type SlackMessage,
} from './blocks';
import { code, escapeAndFit, mention } from './format';
import { LIMITS } from './limits';

const mrkdwnStyle: DigestStyle = {
  user: (id) => mention(id),
  id: (id) => code(id),
  bold: (text) => `*${text}*`,
  quote: (text, max) => `"${escapeAndFit(text, max)}"`,
};

/**
 * A section's title and as many of its lines as fit in one section block, saying how many were
 * left out. The lists are already cut to a few entries, so this only bites on freak lengths.
 */
function sectionText(title: string, lines: string[]): string {
  const out = [title];
  let length = title.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const note = `\n…and ${lines.length - i} more lines (\`hallpass digest --print\` shows them)`;
    if (length + 1 + line.length + note.length > LIMITS.sectionText) {
      out.push(note.slice(1));
      break;
    }
    out.push(line);
    length += 1 + line.length;
  }
  return out.join('\n');
}

/** The weekly digest as one Slack message: at most 2 + 2 blocks per section, well under 50. */
export function digestMessage(digest: Digest): SlackMessage {
  const sections = digestSections(digest, mrkdwnStyle);
  const blocks: Block[] = [header('Hallpass weekly digest'), context([formatPeriod(digest)])];
  for (const s of sections) {
    blocks.push(divider());
    blocks.push(
      section(sectionText(s.alert ? `:rotating_light: *${s.title}*` : `*${s.title}*`, s.lines)),
    );
  }
  const alerts = sections.filter((s) => s.alert).map((s) => s.title);
  return {
    text: fallback(
      `Hallpass weekly digest, ${formatPeriod(digest)}${alerts.length > 0 ? `: ${alerts.join('; ')}` : ''}`,
    ),
    blocks,
  };
}
