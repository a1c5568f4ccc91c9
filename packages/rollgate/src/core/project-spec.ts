/**
 * The whole `rollgate.yaml`: apps, environments, notification channels and pipelines, with the
 * checks that span them (listeners used twice, references to undeclared apps or environments).
 */
import { z } from 'zod';
import { PipelineSpec } from './pipeline-spec.js';
import { AppSpec, EnvironmentSpec, NotificationChannelSpec, name } from './spec.js';

export const ProjectSpec = z
  .object({
    apps: z.record(name('app name'), AppSpec),
    environments: z.record(name('environment name'), EnvironmentSpec),
    notifications: z.object({ channels: z.array(NotificationChannelSpec) }).strict().optional(),
    pipelines: z.record(name('pipeline name'), PipelineSpec).default({}),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const envs = new Set(Object.keys(spec.environments));
    const ports = new Map<string, string>();
    for (const [envName, env] of Object.entries(spec.environments)) {
      const key = String(env.listen);
      const other = ports.get(key);
      if (other) ctx.addIssue({ code: 'custom', path: ['environments', envName, 'listen'], message: `listener ${key} is already used by environment "${other}"` });
      ports.set(key, envName);
    }
    for (const [appName, app] of Object.entries(spec.apps)) {
      for (const envName of Object.keys(app.environments)) {
        if (!envs.has(envName)) {
          ctx.addIssue({ code: 'custom', path: ['apps', appName, 'environments', envName], message: `unknown environment "${envName}"; declared: ${[...envs].join(', ') || 'none'}` });
        }
      }
    }
    for (const [pName, p] of Object.entries(spec.pipelines)) {
      if (!spec.apps[p.app]) ctx.addIssue({ code: 'custom', path: ['pipelines', pName, 'app'], message: `unknown app "${p.app}"; declared: ${Object.keys(spec.apps).join(', ') || 'none'}` });
      p.stages.forEach((st, i) => {
        const env = st.deploy?.env ?? st.verify?.env ?? st.window?.env ?? st.approval?.auto?.healthy?.env;
        if (env !== undefined && !envs.has(env)) {
          ctx.addIssue({ code: 'custom', path: ['pipelines', pName, 'stages', i], message: `stage "${st.name}" names unknown environment "${env}"; declared: ${[...envs].join(', ') || 'none'}` });
        }
      });
    }
  });
export type ProjectSpec = z.infer<typeof ProjectSpec>;
