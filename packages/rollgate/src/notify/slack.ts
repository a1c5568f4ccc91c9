/**
 * Slack incoming webhook: a fallback `text` (notifications, screen readers) and Block Kit
 * `blocks` that read at a glance: what happened, then app, version, environment, outcome, link.
 * The webhook URL is itself the credential, so it is never shown whole.
 */
import type { Dispatcher } from 'undici';
import { postJson, secretPartsOfUrl } from './http.js';
import type { DeliveryResult, Notification, Notifier } from './types.js';

const ICONS: Record<string, string> = {
  succeeded: ':white_check_mark:',
  rolled_back: ':rewind:',
  failed: ':x:',
  error: ':x:',
  aborted: ':no_entry_sign:',
  cancelled: ':no_entry_sign:',
  opened: ':rotating_light:',
  resolved: ':large_green_circle:',
  started: ':arrow_forward:',
  queued: ':hourglass_flowing_sand:',
};

/** Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

export function slackMessage(n: Notification): SlackMessage {
  const icon = (n.outcome && ICONS[n.outcome]) ?? ':information_source:';
  const outcome = n.outcome ? n.outcome.replace(/_/g, ' ') : n.type;
  const text = `${icon} ${slackEscape(n.summary)}`;
  const fields: Array<{ type: 'mrkdwn'; text: string }> = [];
  const field = (label: string, v: string | null) => {
    if (v) fields.push({ type: 'mrkdwn', text: `*${label}*\n${slackEscape(v)}` });
  };
  field('App', n.app);
  field('Version', n.version);
  field('Environment', n.env);
  field('Outcome', outcome);
  if (n.previousVersion && n.type === 'deployment.rolled_back') field('Serving now', n.previousVersion);
  const blocks: Array<Record<string, unknown>> = [
    { type: 'section', text: { type: 'mrkdwn', text: `${icon} *${slackEscape(n.summary)}*` } },
  ];
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  if (n.link) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Rollgate' }, url: n.link }],
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(`${n.type} · ${n.at}${n.deploymentId ? ` · deployment ${n.deploymentId}` : ''}`) }] });
  return { text: n.link ? `${text} <${n.link}|details>` : text, blocks };
}

export interface SlackNotifierOptions {
  url: string;
  http?: Dispatcher | undefined;
}

export class SlackNotifier implements Notifier {
  readonly kind = 'slack' as const;
  constructor(private readonly o: SlackNotifierOptions) {}

  deliver(n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    return postJson({
      url: this.o.url,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(slackMessage(n)),
      signal,
      http: this.o.http,
      redact: secretPartsOfUrl(this.o.url, true),
    });
  }
}
