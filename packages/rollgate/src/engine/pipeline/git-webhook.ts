/**
 * Push webhooks from git servers: signature check and the few facts of a push a pipeline needs.
 * GitHub, Gitea and Forgejo sign the raw body (`X-Hub-Signature-256: sha256=<hex HMAC>`); GitLab
 * sends the secret itself in `X-Gitlab-Token`. Payload shapes differ a little between them.
 */
import { createHmac, timingSafeEqual, createHash } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';

export interface PushEvent {
  /** Full ref name, e.g. refs/heads/main or refs/tags/v1.2. */
  ref: string;
  /** The branch for refs/heads/…, null for tags and other refs. */
  branch: string | null;
  /** The ref's new commit (all zeros when it was deleted). */
  after: string;
  /** Every URL the payload gives for the repository (clone, ssh, web). */
  repositoryUrls: string[];
  deleted: boolean;
}

const SIGNATURE_RE = /^sha256=([0-9a-f]{64})$/i;
const SHA_RE = /^([0-9a-f]{40}|[0-9a-f]{64})$/i;

/** Whether `header` is `sha256=<hex>` of the HMAC-SHA256 of `body` with `secret`. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (secret.length === 0 || typeof header !== 'string') return false;
  const m = SIGNATURE_RE.exec(header.trim());
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(m[1]!, 'hex'));
}

/** GitLab's `X-Gitlab-Token`: the secret itself, compared in constant time. */
export function verifyToken(secret: string, header: string | undefined): boolean {
  if (secret.length === 0 || typeof header !== 'string') return false;
  // Hashing first gives equal lengths, so the comparison does not reveal the secret's length.
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(secret), digest(header));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

const invalid = (what: string) => new RollgateError('invalid_input', `push webhook payload ${what}; send the repository's push event as JSON (GitHub, Gitea, Forgejo or GitLab)`);

/** Fields holding the repository's URLs: GitHub/Gitea/Forgejo `repository`, GitLab `project` (and its legacy `repository`). */
const URL_FIELDS: Record<'repository' | 'project', string[]> = {
  repository: ['clone_url', 'ssh_url', 'html_url', 'git_url', 'url', 'git_http_url', 'git_ssh_url', 'homepage'],
  project: ['git_http_url', 'git_ssh_url', 'http_url', 'ssh_url', 'web_url', 'url', 'homepage'],
};

export function parsePush(body: unknown): PushEvent {
  if (!isObj(body)) throw invalid('is not a JSON object');
  const ref = str(body.ref);
  if (ref === undefined) throw invalid('has no "ref" (e.g. "refs/heads/main"); is this a push event?');
  // GitLab names the new commit both `after` and `checkout_sha` (null when the branch is deleted).
  const after = str(body.after) ?? str(body.checkout_sha);
  if (after === undefined) throw invalid('has no "after" (nor GitLab\'s "checkout_sha") with the pushed commit');
  if (!SHA_RE.test(after)) throw invalid(`"after" is ${JSON.stringify(after.slice(0, 80))}, not a commit sha`);
  const urls: string[] = [];
  for (const [field, keys] of Object.entries(URL_FIELDS)) {
    const o = body[field];
    if (!isObj(o)) continue;
    for (const k of keys) {
      const u = str(o[k]);
      // Only URLs (scheme:// or git@host:path): some fields hold plain names on some servers.
      if (u !== undefined && !urls.includes(u) && /^([a-z][a-z0-9+.-]*:\/\/|[^\s/@]+@[^\s:]+:)/i.test(u)) urls.push(u);
    }
  }
  if (urls.length === 0) throw invalid('has no repository URL (repository.clone_url, repository.html_url or project.git_http_url)');
  return {
    ref,
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null,
    after: after.toLowerCase(),
    repositoryUrls: urls,
    deleted: body.deleted === true || /^0+$/.test(after),
  };
}

/**
 * A URL reduced to host and path, for comparing: no scheme, credentials, port, trailing ".git"
 * or "/", lower-case. `git@host:owner/repo` (scp form) becomes `host/owner/repo`.
 */
export function repositoryKey(url: string): string {
  let u = url.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)(.*)$/i.exec(u);
  if (scheme) {
    const host = scheme[1]!.replace(/^.*@/, '').replace(/:\d*$/, '');
    u = `${host}${scheme[2]!}`;
  } else {
    const scp = /^(?:[^\s/@]+@)?([^\s/:]+):(?!\/\/)(.*)$/.exec(u);
    if (scp && !u.startsWith('/')) u = `${scp[1]!}/${scp[2]!.replace(/^\/+/, '')}`;
  }
  return u.replace(/\/+$/, '').replace(/\.git$/i, '').replace(/\/+$/, '').toLowerCase();
}

/** Whether the push is for the repository a pipeline follows (any of its URLs, in any form). */
export function pushMatchesRepository(push: PushEvent, configuredUrl: string): boolean {
  const key = repositoryKey(configuredUrl);
  return push.repositoryUrls.some((u) => repositoryKey(u) === key);
}
