import { auditModulesAgent } from './agent.ts';

export { auditModulesAgent, type AuditModulesOptions } from './agent.ts';
export { auditorModel, evaluatorModel, signOffSignal } from './audit-script.ts';

/** What `longrun run examples/audit-modules` and `longrun worker --agents …` load. */
export default auditModulesAgent();
