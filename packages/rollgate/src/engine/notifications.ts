/**
 * Notification channels of the platform: declared in rollgate.yaml (secrets by environment
 * variable name only, resolved from the server's environment), fed by the event bus, delivered
 * in the background by the dispatcher (retries, backoff, delivery log, resend).
 */
import { RollgateError } from '../core/errors.js';
import type { NotificationChannelSpec } from '../core/spec.js';
import { NotificationDispatcher, parseChannels, type ChannelConfig, type DeliveryAttempt, type DeliveryFilter } from '../notify/index.js';
import type { Store } from '../store/types.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';

const SETTING = 'notification_channels';

export class Notifications {
  readonly dispatcher: NotificationDispatcher;
  private readonly detach: () => void;

  constructor(
    private readonly store: Store,
    events: EventBus,
    log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    opts: { baseUrl?: string } = {},
  ) {
    this.dispatcher = new NotificationDispatcher({ logger: log, ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}) });
    this.detach = this.dispatcher.attach(events);
  }

  /** Channels as last applied (they hold no secrets, only variable names). */
  async load(): Promise<void> {
    const saved = await this.store.getSetting(SETTING);
    if (!saved) return;
    try {
      this.dispatcher.setChannels(this.resolve(JSON.parse(saved) as NotificationChannelSpec[]));
    } catch {
      // A variable missing at start must not stop the server; `rollgate apply` reports it.
    }
  }

  /** Checks every channel resolves (variables set, secrets valid) before anything is recorded. */
  check(specs: NotificationChannelSpec[]): ChannelConfig[] {
    return this.resolve(specs);
  }

  async apply(specs: NotificationChannelSpec[]): Promise<void> {
    const channels = this.resolve(specs);
    await this.store.setSetting(SETTING, JSON.stringify(specs));
    this.dispatcher.setChannels(channels);
  }

  deliveries(filter: DeliveryFilter): Promise<DeliveryAttempt[]> {
    return this.dispatcher.log.list(filter);
  }

  resend(deliveryId: string): Promise<string> {
    return this.dispatcher.resend(deliveryId);
  }

  async close(): Promise<void> {
    this.detach();
    await this.dispatcher.close();
  }

  private resolve(specs: NotificationChannelSpec[]): ChannelConfig[] {
    const value = (name: string, channel: string, what: string): string => {
      const v = this.env[name];
      if (!v) throw new RollgateError('invalid_spec', `notification channel "${channel}": ${what} comes from $${name}, which is not set in the server's environment; set it and apply again`);
      return v;
    };
    return parseChannels(
      specs.map((s) => ({
        name: s.name,
        kind: s.kind,
        url: s.url ?? value(s.urlEnv!, s.name, 'its URL'),
        ...(s.secretEnv ? { secret: value(s.secretEnv, s.name, 'its signing secret') } : {}),
        events: s.events,
        ...(s.apps ? { apps: s.apps } : {}),
        ...(s.envs ? { envs: s.envs } : {}),
      })),
    );
  }
}
