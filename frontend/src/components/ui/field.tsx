import { forwardRef, useId, type InputHTMLAttributes, type ReactNode, type TextareaHTMLAttributes } from "react";
import { cn } from "@/lib/cn";

const control =
  "w-full rounded-md border border-border bg-surface px-3 py-2 text-sm text-foreground placeholder:text-muted-foreground focus:outline-none focus:ring-2 focus:ring-ring aria-[invalid=true]:border-danger";

interface FieldProps {
  label: string;
  error?: string;
  hint?: ReactNode;
}

/** A label, the control it names, and its error (or hint) wired up with aria-describedby. */
function Field({
  label,
  error,
  hint,
  className,
  id,
  children,
}: FieldProps & { className?: string; id?: string; children: (props: { id: string; "aria-invalid"?: true; "aria-describedby"?: string }) => ReactNode }) {
  const generated = useId();
  const controlId = id ?? generated;
  const help = error || hint ? `${controlId}-help` : undefined;
  return (
    <div className={cn("space-y-1.5", className)}>
      <label htmlFor={controlId} className="block text-sm font-medium">
        {label}
      </label>
      {children({ id: controlId, "aria-invalid": error ? true : undefined, "aria-describedby": help })}
      {help && (
        <div id={help} className={cn("text-sm", error ? "text-danger" : "text-muted-foreground")}>
          {error ?? hint}
        </div>
      )}
    </div>
  );
}

export const TextField = forwardRef<HTMLInputElement, FieldProps & InputHTMLAttributes<HTMLInputElement>>(
  function TextField({ label, error, hint, className, id, ...props }, ref) {
    return (
      <Field label={label} error={error} hint={hint} className={className} id={id}>
        {(wiring) => <input ref={ref} className={cn(control, "h-10")} {...wiring} {...props} />}
      </Field>
    );
  },
);

export const TextAreaField = forwardRef<HTMLTextAreaElement, FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>>(
  function TextAreaField({ label, error, hint, className, id, ...props }, ref) {
    return (
      <Field label={label} error={error} hint={hint} className={className} id={id}>
        {(wiring) => <textarea ref={ref} className={cn(control, "min-h-20")} {...wiring} {...props} />}
      </Field>
    );
  },
);

export function FormError({ message }: { message?: string | null }) {
  if (!message) return null;
  return (
    <div role="alert" className="rounded-md border border-danger/40 bg-danger/10 px-3 py-2 text-sm text-danger">
      {message}
    </div>
  );
}
