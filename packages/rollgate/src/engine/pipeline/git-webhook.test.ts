/** Push webhooks: signatures, and the push payloads of GitHub, Gitea/Forgejo and GitLab. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';
import { parsePush, pushMatchesRepository, repositoryKey, verifySignature, verifyToken } from './git-webhook.js';

const SHA_BEFORE = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const SHA_AFTER = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';
const ZEROS = '0000000000000000000000000000000000000000';

/** Trimmed from a GitHub "push" delivery. */
const github = {
  ref: 'refs/heads/main',
  before: SHA_BEFORE,
  after: SHA_AFTER,
  created: false,
  deleted: false,
  forced: false,
  base_ref: null,
  compare: 'https://github.com/acme/shop/compare/6113728f27ae...0d1a26e67d8f',
  commits: [{ id: SHA_AFTER, message: 'Fix checkout', timestamp: '2024-05-02T11:30:00+02:00', author: { name: 'Ada', email: 'ada@acme.test' } }],
  head_commit: { id: SHA_AFTER, message: 'Fix checkout' },
  repository: {
    id: 1296269,
    name: 'shop',
    full_name: 'acme/shop',
    private: true,
    html_url: 'https://github.com/acme/shop',
    url: 'https://github.com/acme/shop',
    git_url: 'git://github.com/acme/shop.git',
    ssh_url: 'git@github.com:acme/shop.git',
    clone_url: 'https://github.com/acme/shop.git',
    default_branch: 'main',
  },
  pusher: { name: 'ada', email: 'ada@acme.test' },
  sender: { login: 'ada', id: 1 },
};

/** Trimmed from a Gitea / Forgejo "push" delivery. */
const gitea = {
  ref: 'refs/heads/develop',
  before: SHA_BEFORE,
  after: SHA_AFTER,
  compare_url: 'https://git.acme.test/acme/shop/compare/6113728f...0d1a26e6',
  commits: [{ id: SHA_AFTER, message: 'Fix checkout\n', url: 'https://git.acme.test/acme/shop/commit/0d1a26e6', timestamp: '2024-05-02T11:30:00+02:00' }],
  total_commits: 1,
  head_commit: { id: SHA_AFTER },
  repository: {
    id: 12,
    owner: { login: 'acme' },
    name: 'shop',
    full_name: 'acme/shop',
    html_url: 'https://git.acme.test/acme/shop',
    ssh_url: 'ssh://git@git.acme.test:2222/acme/shop.git',
    clone_url: 'https://git.acme.test/acme/shop.git',
    default_branch: 'main',
  },
  pusher: { login: 'ada' },
  sender: { login: 'ada' },
};

/** Trimmed from a GitLab "Push Hook" delivery. */
const gitlab = {
  object_kind: 'push',
  event_name: 'push',
  before: SHA_BEFORE,
  after: SHA_AFTER,
  ref: 'refs/heads/release/2024-05',
  ref_protected: true,
  checkout_sha: SHA_AFTER,
  user_username: 'ada',
  project_id: 15,
  project: {
    id: 15,
    name: 'Shop',
    web_url: 'https://gitlab.acme.test/acme/shop',
    git_ssh_url: 'git@gitlab.acme.test:acme/shop.git',
    git_http_url: 'https://gitlab.acme.test/acme/shop.git',
    namespace: 'Acme',
    path_with_namespace: 'acme/shop',
    default_branch: 'main',
    homepage: 'https://gitlab.acme.test/acme/shop',
    url: 'git@gitlab.acme.test:acme/shop.git',
    ssh_url: 'git@gitlab.acme.test:acme/shop.git',
    http_url: 'https://gitlab.acme.test/acme/shop.git',
  },
  commits: [{ id: SHA_AFTER, message: 'Fix checkout', timestamp: '2024-05-02T11:30:00+02:00' }],
  total_commits_count: 1,
  repository: {
    name: 'Shop',
    url: 'git@gitlab.acme.test:acme/shop.git',
    homepage: 'https://gitlab.acme.test/acme/shop',
    git_http_url: 'https://gitlab.acme.test/acme/shop.git',
    git_ssh_url: 'git@gitlab.acme.test:acme/shop.git',
    visibility_level: 0,
  },
};

const sign = (secret: string, body: Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function invalid(f: () => unknown, message: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && message.test(e.message));
}

test('signature: the right one passes; wrong secret, changed body, malformed or missing headers fail', () => {
  const body = Buffer.from(JSON.stringify(github));
  const good = sign('s3cret', body);
  assert.equal(verifySignature('s3cret', body, good), true);
  assert.equal(verifySignature('s3cret', body, good.toUpperCase().replace('SHA256=', 'sha256=')), true, 'hex case does not matter');
  assert.equal(verifySignature('other', body, good), false);
  assert.equal(verifySignature('s3cret', Buffer.concat([body, Buffer.from(' ')]), good), false);
  assert.equal(verifySignature('s3cret', body, good.replace(/.$/, (c) => (c === '0' ? '1' : '0'))), false);
  for (const bad of [undefined, '', 'sha256=', good.slice(7), `sha1=${good.slice(7)}`, good.slice(0, -2), `${good}00`, `sha256=${'zz'.repeat(32)}`, 'sha256=abc']) {
    assert.equal(verifySignature('s3cret', body, bad), false, `header ${String(bad)}`);
  }
  assert.equal(verifySignature('', body, sign('', body)), false, 'an empty secret never verifies');
});

test('GitLab token: equal passes, anything else fails', () => {
  assert.equal(verifyToken('tok-123', 'tok-123'), true);
  assert.equal(verifyToken('tok-123', 'tok-124'), false);
  assert.equal(verifyToken('tok-123', 'tok-1234'), false);
  assert.equal(verifyToken('tok-123', undefined), false);
  assert.equal(verifyToken('', ''), false);
});

test('GitHub push', () => {
  const p = parsePush(github);
  assert.deepEqual(p, {
    ref: 'refs/heads/main',
    branch: 'main',
    after: SHA_AFTER,
    deleted: false,
    repositoryUrls: ['https://github.com/acme/shop.git', 'git@github.com:acme/shop.git', 'https://github.com/acme/shop', 'git://github.com/acme/shop.git'],
  });
});

test('Gitea / Forgejo push', () => {
  const p = parsePush(gitea);
  assert.equal(p.branch, 'develop');
  assert.equal(p.after, SHA_AFTER);
  assert.equal(p.deleted, false);
  assert.deepEqual(p.repositoryUrls, ['https://git.acme.test/acme/shop.git', 'ssh://git@git.acme.test:2222/acme/shop.git', 'https://git.acme.test/acme/shop']);
});

test('GitLab push: branch with a slash; checkout_sha when after is absent', () => {
  const p = parsePush(gitlab);
  assert.equal(p.ref, 'refs/heads/release/2024-05');
  assert.equal(p.branch, 'release/2024-05');
  assert.equal(p.after, SHA_AFTER);
  assert.equal(p.deleted, false);
  assert.ok(p.repositoryUrls.includes('https://gitlab.acme.test/acme/shop.git'));
  assert.ok(p.repositoryUrls.includes('git@gitlab.acme.test:acme/shop.git'));
  assert.ok(p.repositoryUrls.includes('https://gitlab.acme.test/acme/shop'));
  const { after: _after, ...noAfter } = gitlab;
  assert.equal(parsePush(noAfter).after, SHA_AFTER);
});

test('tag pushes have no branch', () => {
  assert.equal(parsePush({ ...github, ref: 'refs/tags/v1.2.0' }).branch, null);
  assert.equal(parsePush({ ...gitlab, object_kind: 'tag_push', ref: 'refs/tags/v1.2.0' }).branch, null);
});

test('branch deletion: after all zeros means deleted', () => {
  assert.equal(parsePush({ ...github, after: ZEROS, deleted: true, head_commit: null, commits: [] }).deleted, true);
  assert.equal(parsePush({ ...gitea, after: ZEROS }).deleted, true);
  const p = parsePush({ ...gitlab, after: ZEROS, checkout_sha: null, commits: [], total_commits_count: 0 });
  assert.equal(p.deleted, true);
  assert.equal(p.after, ZEROS);
  assert.equal(p.branch, 'release/2024-05');
});

test('missing or wrong fields are invalid_input naming the field', () => {
  invalid(() => parsePush(null), /not a JSON object/);
  invalid(() => parsePush([github]), /not a JSON object/);
  invalid(() => parsePush({ ...github, ref: undefined }), /no "ref"/);
  invalid(() => parsePush({ ...github, after: undefined }), /no "after"/);
  invalid(() => parsePush({ ...github, after: 'main' }), /"after" is "main", not a commit sha/);
  invalid(() => parsePush({ ...github, repository: { name: 'shop' } }), /no repository URL/);
  invalid(() => parsePush({ zen: 'Keep it logically awesome.', hook_id: 1 }), /no "ref".*push event/);
});

test('a push matches the configured repository URL in any of its forms', () => {
  const gh = parsePush(github);
  for (const url of ['https://github.com/acme/shop.git', 'https://github.com/acme/shop', 'git@github.com:acme/shop.git', 'ssh://git@github.com/acme/shop', 'https://bot:tok@github.com/Acme/Shop.git/']) {
    assert.equal(pushMatchesRepository(gh, url), true, url);
  }
  assert.equal(pushMatchesRepository(gh, 'https://github.com/acme/shop-old.git'), false);
  assert.equal(pushMatchesRepository(gh, 'https://gitlab.com/acme/shop.git'), false);
  assert.equal(pushMatchesRepository(parsePush(gitea), 'git@git.acme.test:acme/shop.git'), true);
  assert.equal(pushMatchesRepository(parsePush(gitlab), 'https://gitlab.acme.test/acme/shop'), true);
  assert.equal(repositoryKey('/srv/git/shop.git'), '/srv/git/shop');
});
