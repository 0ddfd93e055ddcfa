import { type ASTVisitor, type DocumentNode, Kind, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';
import depthLimit from 'graphql-depth-limit';

/** The names of the fragments spread anywhere in a selection set (through inline fragments too). */
function spreadsIn(set: SelectionSetNode | undefined, out: string[] = []): string[] {
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FRAGMENT_SPREAD) out.push(s.name.value);
    else spreadsIn(s.selectionSet, out);
  }
  return out;
}

/**
 * True when every spread names a defined fragment and no fragment reaches itself. graphql-depth-limit
 * follows spreads by recursion without either check: a cycle (`fragment A on Query { ...A }`)
 * overflows the stack and an unknown fragment throws, both before graphql-js's own rules
 * (NoFragmentCycles, KnownFragmentNames) can report them, and the request answered 500.
 */
export function fragmentsAreSound(document: DocumentNode): boolean {
  const edges = new Map<string, string[]>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) edges.set(d.name.value, spreadsIn(d.selectionSet));
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION && spreadsIn(d.selectionSet).some((name) => !edges.has(name))) return false;
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): boolean => {
    const seen = state.get(name);
    if (seen === 'done') return true;
    if (seen === 'visiting') return false;
    const next = edges.get(name);
    if (!next) return false;
    state.set(name, 'visiting');
    // iterative enough: a document is bounded by the body limit, and fragments nest shallowly
    for (const n of next) if (!visit(n)) return false;
    state.set(name, 'done');
    return true;
  };
  return [...edges.keys()].every(visit);
}

/**
 * The depth limit, run only on documents whose fragments are sound; otherwise graphql-js's
 * specified rules report the problem as a validation error (400), and depth is moot.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  const inner = depthLimit(maxDepth) as unknown as ValidationRule;
  return (context: ValidationContext): ASTVisitor => (fragmentsAreSound(context.getDocument()) ? inner(context) : {});
}
