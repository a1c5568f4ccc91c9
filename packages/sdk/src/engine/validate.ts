// Checks a state's values beyond its shape: what would make a rule never match, or match by
// accident (an invalid regex, semver, CIDR or date, weights that do not add up, a dependency cycle,
// a segment or parent that does not exist). The server refuses such a state before storing it.
import type { ClientFeatures } from './types.js';

export interface RuleProblem {
  /** Where, as a JSON path into the state: "features[2].strategies[0].constraints[1].value". */
  path: string;
  /** What is wrong and what is expected, for a user to act on. */
  message: string;
}

export function ruleProblems(state: ClientFeatures): RuleProblem[] {
  void state;
  return []; // implemented by the engine work (h-engine)
}
