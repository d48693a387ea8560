/**
 * Roles of API keys (core's apiKeyRoles). Keys made before roles could do everything, so they
 * become `admin`.
 */
export function keyRoles(s: string): string {
  return `
ALTER TABLE ${s}.api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin'
  CHECK (role IN ('admin', 'approver', 'operator', 'viewer'));
`;
}
