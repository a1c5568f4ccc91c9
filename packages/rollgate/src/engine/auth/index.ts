/** Users, roles, API tokens and browser sessions (issue 5). */
export { Auth, AUTH_MESSAGES, type AuthOptions, type LoginResult, type ClientInfo } from './auth.js';
export { Accounts, USER_NAME_RE, DEFAULT_TOKEN_EXPIRY, type UserView, type TokenView, type RoleView, type NewUserInput, type UserChange, type NewTokenInput } from './accounts.js';
export { bootstrapAdmin, LEGACY_TOKEN_SETTING, type BootstrapResult, type BootstrapOptions } from './bootstrap.js';
export { actorOf, effectiveRoleNames, type Principal } from './principal.js';
export { RoleBook } from './roles.js';
export { SESSION_COOKIE, CSRF_HEADER } from './sessions.js';
export { DEFAULT_SCRYPT, hashPassword, verifyPassword, type ScryptParams } from './passwords.js';
export { generateToken, isWellFormedToken, parseBearer, tokenHashHex, TOKEN_RE, TOKEN_ID_RE } from './tokens.js';
export { DEFAULT_THROTTLE, LoginThrottle, type ThrottlePolicy, type ThrottleVerdict } from './login-throttle.js';
export { LoginAudit, DEFAULT_LOGIN_AUDIT_WINDOW_MS, type LoginAttemptKind } from './login-audit.js';
