const EMOJI: Record<string, string> = {
  ':white_check_mark:': 'yes:',
  ':no_entry:': 'NO:',
  ':grey_question:': 'maybe:',
};
const ENTITIES: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&amp;': '&' };

/** Slack mrkdwn as a terminal shows it: `<@U1>` → `U1`, `<#C1>` → `#C1`, no `*bold*`. */
export function plainText(mrkdwn: string): string {
  return mrkdwn
    .replace(/<@([A-Z0-9]+)>/g, '$1')
    .replace(/<!subteam\^([A-Z0-9]+)>/g, '$1')
    .replace(/<#([A-Z0-9]+)>/g, '#$1')
    .replace(/:white_check_mark:|:no_entry:|:grey_question:/g, (e) => EMOJI[e]!)
    .replace(/\*([^*\n]+)\*/g, '$1')
    .replace(/&(lt|gt|amp);/g, (e) => ENTITIES[e]!);
}
