/**
 * Where credentials come from (DESIGN §7, §11): a tool asks for one by name through its context
 * (`ToolContext.secret`), the session's policy decides whether it may (its `secrets` scopes), and
 * the value goes to the tool's code only — never to the model, the log or the sandbox.
 */
export interface SecretStore {
  /** The secret named `name`, or null when there is none. */
  get(name: string): Promise<string | null>;
  /**
   * The names of the secrets the store could give, when it can tell. The runtime masks every
   * one a session's policy allows in whatever its tools return, whether or not they asked for it:
   * a value a tool wrote into the workspace comes back through other tools, also after a restart.
   * A store without it masks the names the session's policies spell out and those its log
   * records as given, plus every value given since the worker took the session.
   */
  listNames?(): Promise<readonly string[]>;
}

/** A secret's name: letters, digits, `_`, `-`, `.`, `/` (1 to 200 characters). */
export function isSecretName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z0-9_./-]{1,200}$/.test(name);
}
