import { RollgateError } from '../core/errors.js';
import { AppSpec, EnvironmentSpec } from '../core/spec.js';
import type { Store } from '../store/types.js';
import type { ServiceConfig } from './service-config.js';

/** The applied spec of an app in an environment, or a not_found error that says what exists. */
export async function loadServiceConfig(store: Store, app: string, env: string): Promise<ServiceConfig> {
  const [a, e] = await Promise.all([store.getApp(app), store.getEnvironment(env)]);
  if (!a) {
    const known = (await store.listApps()).map((x) => x.name);
    throw new RollgateError('not_found', `unknown app "${app}"; apply a rollgate.yaml that declares it (rollgate apply). Known apps: ${known.join(', ') || 'none'}`);
  }
  if (!e) {
    const known = (await store.listEnvironments()).map((x) => x.name);
    throw new RollgateError('not_found', `unknown environment "${env}"; declare it under environments: in rollgate.yaml and apply it. Known environments: ${known.join(', ') || 'none'}`);
  }
  return { app, env, appSpec: AppSpec.parse(a.spec), envSpec: EnvironmentSpec.parse(e.spec) };
}
