/** Notification channels as users declare them, and which notifications each one wants. */
import { z } from 'zod';
import type { Dispatcher } from 'undici';
import { RollgateError } from '../core/errors.js';
import { CDEventsNotifier, cdeventKindFor } from './cdevents.js';
import { maskUrl } from './http.js';
import { SlackNotifier } from './slack.js';
import { NOTIFIER_KINDS, type Notification, type Notifier } from './types.js';
import { decodeWebhookSecret, WebhookNotifier } from './webhook.js';

export const channelSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'channel name: lower-case letters, digits, "-", "_", "." (max 63)'),
    kind: z.enum(NOTIFIER_KINDS),
    url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }),
    secret: z.string().optional(),
    /** Event type globs: `deployment.*`, `incident.opened`, `*`. */
    events: z.array(z.string().min(1)).min(1, 'events: list at least one event type (globs like "deployment.*" allowed)'),
    apps: z.array(z.string().min(1)).optional(),
    envs: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.kind === 'webhook') {
      if (!c.secret) {
        ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a webhook channel needs a signing secret ("whsec_" + base64 of 24-64 random bytes)' });
        return;
      }
      try {
        decodeWebhookSecret(c.secret);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['secret'], message: e instanceof Error ? e.message : String(e) });
      }
    } else if (c.secret !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: `a ${c.kind} channel takes no secret (only webhook channels are signed)` });
    }
  });
export type ChannelConfig = z.infer<typeof channelSchema>;

/** Parses channel definitions; the error names the channel and field and never echoes a secret. */
export function parseChannels(input: unknown): ChannelConfig[] {
  const r = z.array(channelSchema).safeParse(input);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new RollgateError('invalid_input', `invalid notification channels: ${msg}`);
  }
  const seen = new Set<string>();
  for (const c of r.data) {
    if (seen.has(c.name)) throw new RollgateError('invalid_input', `notification channel "${c.name}" is declared twice; give each channel its own name`);
    seen.add(c.name);
  }
  return r.data;
}

/** Glob with `*` = any characters (dots included): `deployment.*`, `*.rolled_back`, `*`. */
export function globMatch(glob: string, value: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

export function channelWants(c: Pick<ChannelConfig, 'kind' | 'events' | 'apps' | 'envs'>, n: Notification): boolean {
  if (!c.events.some((g) => globMatch(g, n.type) || globMatch(g, n.sourceType))) return false;
  if (c.apps && c.apps.length > 0 && !(n.app !== null && c.apps.some((g) => globMatch(g, n.app as string)))) return false;
  if (c.envs && c.envs.length > 0 && !(n.env !== null && c.envs.some((g) => globMatch(g, n.env as string)))) return false;
  // A CDEvents channel only gets what CDEvents can express.
  if (c.kind === 'cdevents' && cdeventKindFor(n) === null) return false;
  return true;
}

export interface NotifierOptions {
  http?: Dispatcher | undefined;
  /** `ce-source` for CDEvents. */
  source?: string | undefined;
}

export function notifierFor(c: ChannelConfig, o: NotifierOptions = {}): Notifier {
  switch (c.kind) {
    case 'webhook':
      return new WebhookNotifier({ url: c.url, secret: c.secret ?? '', http: o.http });
    case 'slack':
      return new SlackNotifier({ url: c.url, http: o.http });
    case 'cdevents':
      return new CDEventsNotifier({ url: c.url, http: o.http, source: o.source });
  }
}

/** The channel's URL as it may be shown (Slack URLs are credentials: path hidden). */
export function channelTarget(c: Pick<ChannelConfig, 'kind' | 'url'>): string {
  return maskUrl(c.url, { hidePath: c.kind === 'slack' });
}

/** A channel as it may be shown in the API or logs: no secret, masked URL. */
export function publicChannel(c: ChannelConfig): Omit<ChannelConfig, 'secret' | 'url'> & { target: string; signed: boolean } {
  const { secret, url: _url, ...rest } = c;
  return { ...rest, target: channelTarget(c), signed: secret !== undefined };
}
