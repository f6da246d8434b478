import { Button } from "@/components/ui/button";
import { cn } from "@/lib/cn";
import { problemPlace, runtimeKind, type PreviewProblem, type RuntimeError } from "./data";

/** The build's problems (type errors of a ready build, errors of a failed one) and the errors the running app
 * reported, with "Fix with AI". */
export function Problems({
  problems,
  failed,
  checking,
  errors,
  canFix,
  fixing,
  onFix,
}: {
  problems: PreviewProblem[];
  failed: boolean;
  checking: boolean;
  errors: RuntimeError[];
  canFix: boolean;
  fixing: boolean;
  onFix: () => void;
}) {
  const count = problems.length + errors.length;
  if (count === 0 && !checking) return null;
  return (
    <section aria-labelledby="preview-problems" className="flex max-h-[40%] min-h-0 shrink-0 flex-col border-t border-border bg-surface">
      <div className="flex flex-wrap items-center gap-2 px-3 py-1.5">
        <h3 id="preview-problems" className="mr-auto text-sm font-medium">
          Problems ({count}){checking && <span className="ml-2 font-normal text-muted-foreground">checking types…</span>}
        </h3>
        {count > 0 && (
          <Button
            variant="secondary"
            size="sm"
            onClick={onFix}
            busy={fixing}
            disabled={!canFix}
            title={canFix ? "Ask the AI in this project's chat to fix these" : "Your role does not allow editing this project"}
          >
            Fix with AI
          </Button>
        )}
      </div>
      {count > 0 && (
        // Focusable: a long list scrolls, and the keyboard must reach what is below.
        <ul tabIndex={0} className="min-h-0 divide-y divide-border overflow-y-auto border-t border-border text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-ring" aria-label="Problems" data-testid="preview-problems">
          {problems.map((problem, index) => {
            const place = problemPlace(problem);
            return (
              <li key={`p${index}`} className="px-3 py-1.5">
                <span className="mr-2 rounded bg-danger/10 px-1.5 py-0.5 text-xs text-danger">{failed ? "Build error" : "Type error"}</span>
                {place && <span className="mr-2 font-mono text-xs">{place}</span>}
                {problem.code && <span className="mr-2 font-mono text-xs text-muted-foreground">{problem.code}</span>}
                {/* A build error's message holds a code frame: its columns line up only in a fixed-width font. */}
                <span className={cn("whitespace-pre-wrap break-words", failed && "font-mono text-xs")}>{problem.message}</span>
              </li>
            );
          })}
          {errors.map((error, index) => (
            <li key={`e${index}`} className="px-3 py-1.5">
              <span className="mr-2 rounded bg-danger/10 px-1.5 py-0.5 text-xs text-danger">{runtimeKind(error)}</span>
              <span className="whitespace-pre-wrap break-words">{error.message}</span>
              {error.stack && (
                <details className="mt-1">
                  <summary className="cursor-pointer text-xs text-muted-foreground">Stack</summary>
                  <pre className="mt-1 max-h-40 overflow-auto rounded bg-muted p-2 text-xs" tabIndex={0}>
                    {error.stack}
                  </pre>
                </details>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
