/** The password rules the API enforces, shown as the person types. The API stays the judge: it
 * also refuses passwords on its list of common ones. */
export interface PasswordRule {
  label: string;
  met: boolean;
}

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

export function passwordRules(password: string): PasswordRule[] {
  return [
    { label: `At least ${MIN_PASSWORD_LENGTH} characters`, met: password.length >= MIN_PASSWORD_LENGTH },
    { label: "More than two different characters", met: new Set(password).size > 2 },
    { label: `At most ${MAX_PASSWORD_LENGTH} characters`, met: password.length <= MAX_PASSWORD_LENGTH },
  ];
}

export function passwordAcceptable(password: string): boolean {
  return passwordRules(password).every((rule) => rule.met);
}
