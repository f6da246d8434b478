// /admin/settings: maintenance mode, sign-ups, the announcement, the default AI model and the plans. Each section
// saves on its own, sending only its own setting: a co-admin may change the AI and announcement settings and the
// plans but not maintenance mode or sign-ups (the API refuses a request that carries either).

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import type { paths } from "@/api/schema";
import { useAuth } from "@/auth/auth";
import { systemStatusKey } from "@/components/system-status";
import { Button } from "@/components/ui/button";
import { FormError, TextAreaField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { isPlatformAdmin } from "./access";
import { PlansSection } from "./plans-settings";

type SettingsEnvelope = paths["/api/admin/settings"]["get"]["responses"][200]["content"]["application/json"];
type SettingsChange = NonNullable<paths["/api/admin/settings"]["patch"]["requestBody"]>["content"]["application/json"];
type Signups = SettingsEnvelope["settings"]["signups"];

type SystemSettings = SettingsEnvelope["settings"];

const settingsKey = ["admin", "settings"] as const;
// The API's limit for the maintenance message and the announcement.
const MAX_TEXT = 500;
const ADMINS_ONLY = "Only platform administrators can change this.";

const SIGNUP_CHOICES: { value: Signups; label: string; hint: string }[] = [
  { value: "open", label: "Open", hint: "Anyone can create an account." },
  { value: "invite_only", label: "By invitation only", hint: "Only people an organization has invited can create an account." },
  { value: "closed", label: "Closed", hint: "Nobody can create an account." },
];

/** Saves one change; the settings shown (and the platform status of the banners) follow the answer. */
function useSaveSettings(success: string) {
  const queryClient = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (change: SettingsChange) => unwrap(api.PATCH("/api/admin/settings", { body: change })),
    onSuccess: (envelope) => {
      queryClient.setQueryData(settingsKey, envelope);
      void queryClient.invalidateQueries({ queryKey: systemStatusKey });
      toast.success(success);
    },
  });
}

function MaintenanceSection({ settings, canChange }: { settings: SystemSettings; canChange: boolean }) {
  const [on, setOn] = useState(settings.maintenance.on);
  const [message, setMessage] = useState(settings.maintenance.message);
  const save = useSaveSettings("Maintenance mode saved");
  const switchId = useId();
  return (
    <Section
      title="Maintenance mode"
      description="While it is on, everyone but administrators and co-admins gets the maintenance page (and the API answers 503)."
    >
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ maintenance: { on, message } });
        }}
      >
        <fieldset disabled={!canChange} className="space-y-4">
          <div className="flex items-center gap-3">
            <input
              id={switchId}
              type="checkbox"
              role="switch"
              className="h-5 w-5 accent-primary"
              checked={on}
              onChange={(e) => setOn(e.target.checked)}
            />
            <label htmlFor={switchId} className="text-sm font-medium">
              Maintenance mode
            </label>
            <span className={on ? "text-sm font-medium text-warning" : "text-sm text-muted-foreground"}>{on ? "On" : "Off"}</span>
          </div>
          <TextAreaField
            label="Message"
            hint="What the maintenance page says. Left empty, it says that MoreMinimore is down for maintenance."
            maxLength={MAX_TEXT}
            value={message}
            onChange={(e) => setMessage(e.target.value)}
          />
        </fieldset>
        {!canChange && <p className="text-sm text-muted-foreground">{ADMINS_ONLY}</p>}
        <FormError message={save.error ? errorText(save.error) : null} />
        {canChange && (
          <Button type="submit" busy={save.isPending}>
            Save
          </Button>
        )}
      </form>
    </Section>
  );
}

function SignupsSection({ settings, canChange }: { settings: SystemSettings; canChange: boolean }) {
  const [signups, setSignups] = useState<Signups>(settings.signups);
  const save = useSaveSettings("Sign-ups saved");
  const name = useId();
  return (
    <Section title="Sign-ups" description="Who can create an account.">
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ signups });
        }}
      >
        <fieldset disabled={!canChange} className="space-y-2">
          <legend className="sr-only">Who can create an account</legend>
          {SIGNUP_CHOICES.map((choice) => (
            <label key={choice.value} className="flex items-start gap-3 text-sm">
              <input
                type="radio"
                name={name}
                value={choice.value}
                className="mt-0.5 h-4 w-4 accent-primary"
                checked={signups === choice.value}
                onChange={() => setSignups(choice.value)}
              />
              <span>
                <span className="font-medium">{choice.label}</span>
                <span className="block text-muted-foreground">{choice.hint}</span>
              </span>
            </label>
          ))}
        </fieldset>
        {!canChange && <p className="text-sm text-muted-foreground">{ADMINS_ONLY}</p>}
        <FormError message={save.error ? errorText(save.error) : null} />
        {canChange && (
          <Button type="submit" busy={save.isPending}>
            Save
          </Button>
        )}
      </form>
    </Section>
  );
}

function AnnouncementSection({ settings }: { settings: SystemSettings }) {
  const [text, setText] = useState(settings.announcement ?? "");
  const save = useSaveSettings("Announcement saved");
  return (
    <Section title="Announcement banner" description="Shown at the top of every page to everyone signed in (each person can dismiss it).">
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ announcement: text.trim() ? text : null });
        }}
      >
        <TextAreaField
          label="Announcement text"
          hint="Leave it empty for no banner."
          maxLength={MAX_TEXT}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <FormError message={save.error ? errorText(save.error) : null} />
        <div className="flex flex-wrap gap-2">
          <Button type="submit" busy={save.isPending}>
            Save
          </Button>
          {settings.announcement && (
            <Button
              variant="secondary"
              disabled={save.isPending}
              onClick={() => {
                setText("");
                save.mutate({ announcement: null });
              }}
            >
              Remove the banner
            </Button>
          )}
        </div>
      </form>
    </Section>
  );
}

function useCatalog() {
  const providers = useQuery({
    queryKey: ["admin", "ai-providers"],
    queryFn: () => unwrap(api.GET("/api/admin/ai-providers")),
    select: (list) => list.items,
  });
  const models = useQuery({
    queryKey: ["admin", "ai-models"],
    queryFn: () => unwrap(api.GET("/api/admin/ai-models")),
    select: (list) => list.items,
  });
  return { providers, models };
}

function DefaultModelSection({ settings }: { settings: SystemSettings }) {
  const [modelId, setModelId] = useState(settings.defaultAiModelId ?? "");
  const save = useSaveSettings("Default AI model saved");
  const { providers, models } = useCatalog();
  const selectId = useId();
  const catalogError = providers.error ?? models.error;
  return (
    <Section title="Default AI model" description="The model a new chat starts with, until the person picks another.">
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ defaultAiModelId: modelId || null });
        }}
      >
        {catalogError ? (
          <FormError message={errorText(catalogError)} />
        ) : !providers.data || !models.data ? (
          <Skeleton className="h-10 w-full" />
        ) : (
          <div className="space-y-1.5">
            <label htmlFor={selectId} className="block text-sm font-medium">
              Default model for new chats
            </label>
            <select
              id={selectId}
              value={modelId}
              onChange={(e) => setModelId(e.target.value)}
              className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm"
            >
              <option value="">None: each person picks</option>
              {providers.data.map((provider) => {
                const offered = models.data.filter((model) => model.providerId === provider.id);
                if (offered.length === 0) return null;
                return (
                  <optgroup key={provider.id} label={provider.isEnabled ? provider.name : `${provider.name} (disabled)`}>
                    {offered.map((model) => {
                      // Only available models of enabled providers can be chosen (the current one stays listed).
                      const usable = provider.isEnabled && model.isAvailable;
                      return (
                        <option key={model.id} value={model.id} disabled={!usable && model.id !== modelId}>
                          {usable ? model.displayName : `${model.displayName} (unavailable)`}
                        </option>
                      );
                    })}
                  </optgroup>
                );
              })}
            </select>
          </div>
        )}
        <FormError message={save.error ? errorText(save.error) : null} />
        <Button type="submit" busy={save.isPending} disabled={!models.data}>
          Save
        </Button>
      </form>
    </Section>
  );
}

export function SettingsScreen() {
  const { user } = useAuth();
  const settings = useQuery({
    queryKey: settingsKey,
    queryFn: () => unwrap(api.GET("/api/admin/settings")),
    select: (envelope: SettingsEnvelope) => envelope.settings,
  });
  const isAdmin = isPlatformAdmin(user);
  return (
    <div className="mt-6 space-y-8">
      <h1 className="text-2xl font-semibold">System settings</h1>
      {settings.error ? (
        <FormError message={errorText(settings.error)} />
      ) : !settings.data ? (
        <div className="space-y-4">
          <Skeleton className="h-40 w-full" />
          <Skeleton className="h-40 w-full" />
        </div>
      ) : (
        <>
          <MaintenanceSection settings={settings.data} canChange={isAdmin} />
          <SignupsSection settings={settings.data} canChange={isAdmin} />
          <AnnouncementSection settings={settings.data} />
          <DefaultModelSection settings={settings.data} />
        </>
      )}
      <PlansSection />
    </div>
  );
}
