import { passwordRules } from "@/lib/password";
import { cn } from "@/lib/cn";

export function PasswordRules({ password, id }: { password: string; id?: string }) {
  return (
    <ul id={id} className="space-y-1 text-sm" aria-live="polite">
      {passwordRules(password).map((rule) => (
        <li key={rule.label} className={cn("flex items-center gap-2", rule.met ? "text-success" : "text-muted-foreground")}>
          <span aria-hidden="true">{rule.met ? "✓" : "○"}</span>
          {rule.label}
          <span className="sr-only">{rule.met ? "(met)" : "(not met yet)"}</span>
        </li>
      ))}
    </ul>
  );
}
