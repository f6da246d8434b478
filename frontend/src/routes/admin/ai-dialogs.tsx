// The AI catalog's dialogs: add or change a provider, add or change a model, and confirm a removal. Each form
// checks what the API checks before sending, sends only what changed (a co-admin's change of a provider must not
// carry its base URL or key name, which the API keeps for administrators), and shows the API's answer otherwise.

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent, type ReactNode, type SelectHTMLAttributes } from "react";
import { api, errorText, fieldError, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError, TextAreaField, TextField } from "@/components/ui/field";
import { useToast } from "@/components/ui/toast";
import { catalogKeys, checkBaseUrl, checkKeyName, checkName, checkSlug, formErrorText, KIND_LABELS, MAX_CONTEXT_WINDOW, MAX_OUTPUT_TOKENS, parsePrice, parseTokens, plainDecimal, type Model, type ModelBody, type ModelPatch, type Provider, type ProviderBody, type ProviderKind, type ProviderPatch } from "./ai-data";

const KINDS = Object.keys(KIND_LABELS) as ProviderKind[];
const MAX_DESCRIPTION = 2000;

function SelectField({ label, hint, children, ...props }: { label: string; hint?: string; children: ReactNode } & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      <select
        id={id}
        aria-describedby={hint ? `${id}-help` : undefined}
        className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm disabled:opacity-60"
        {...props}
      >
        {children}
      </select>
      {hint && (
        <p id={`${id}-help`} className="text-sm text-muted-foreground">
          {hint}
        </p>
      )}
    </div>
  );
}

function Switch({ label, hint, checked, onChange }: { label: string; hint?: string; checked: boolean; onChange: (checked: boolean) => void }) {
  const id = useId();
  return (
    <div className="flex items-start gap-3">
      <input
        id={id}
        type="checkbox"
        role="switch"
        className="mt-0.5 h-5 w-5 accent-primary"
        checked={checked}
        aria-describedby={hint ? `${id}-help` : undefined}
        onChange={(e) => onChange(e.target.checked)}
      />
      <div>
        <label htmlFor={id} className="text-sm font-medium">
          {label}
        </label>
        {hint && (
          <p id={`${id}-help`} className="text-sm text-muted-foreground">
            {hint}
          </p>
        )}
      </div>
    </div>
  );
}

function DialogActions({ busy, submitLabel, onCancel }: { busy: boolean; submitLabel: string; onCancel: () => void }) {
  return (
    <div className="flex justify-end gap-2 pt-2">
      <Button variant="secondary" onClick={onCancel} disabled={busy}>
        Cancel
      </Button>
      <Button type="submit" busy={busy}>
        {submitLabel}
      </Button>
    </div>
  );
}

// ------------------------------------------------------------------------------------------------ providers

interface ProviderFormProps {
  provider: Provider | null;
  isAdmin: boolean;
  onDone: () => void;
}

function ProviderForm({ provider, isAdmin, onDone }: ProviderFormProps) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [slug, setSlug] = useState(provider?.slug ?? "");
  const [name, setName] = useState(provider?.name ?? "");
  const [kind, setKind] = useState<ProviderKind>(provider?.kind ?? "openai_compatible");
  const [baseUrl, setBaseUrl] = useState(provider?.apiBaseUrl ?? "");
  const [keyName, setKeyName] = useState(provider?.envVarName ?? "");
  const [enabled, setEnabled] = useState(provider?.isEnabled ?? true);
  const [checked, setChecked] = useState(false);

  const save = useMutation({
    mutationFn: async (): Promise<Provider> => {
      if (!provider) {
        const body: ProviderBody = { slug, name: name.trim(), kind, apiBaseUrl: baseUrl.trim(), envVarName: keyName || null, isEnabled: enabled };
        return (await unwrap(api.POST("/api/admin/ai-providers", { body }))).provider;
      }
      const change: ProviderPatch = {};
      if (name.trim() !== provider.name) change.name = name.trim();
      if (enabled !== provider.isEnabled) change.isEnabled = enabled;
      if (isAdmin && baseUrl.trim().replace(/\/+$/, "") !== provider.apiBaseUrl) change.apiBaseUrl = baseUrl.trim();
      if (isAdmin && (keyName || null) !== provider.envVarName) change.envVarName = keyName || null;
      const params = { path: { id: provider.id } };
      return (await unwrap(api.PATCH("/api/admin/ai-providers/{id}", { params, body: change }))).provider;
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: catalogKeys.providers });
      toast.success(provider ? `${saved.name} saved` : `${saved.name} added`);
      onDone();
    },
  });

  const errors = {
    slug: provider ? undefined : checkSlug(slug),
    name: checkName(name, "provider"),
    apiBaseUrl: isAdmin ? checkBaseUrl(baseUrl) : undefined,
    envVarName: isAdmin ? checkKeyName(keyName) : undefined,
  };
  const shown = (field: keyof typeof errors) => (checked ? errors[field] : undefined) ?? fieldError(save.error, field);

  function submit(event: FormEvent) {
    event.preventDefault();
    setChecked(true);
    if (Object.values(errors).some(Boolean)) return;
    save.mutate();
  }

  return (
    <form className="space-y-4" noValidate onSubmit={submit}>
      {!provider && (
        <TextField
          label="Slug"
          hint="Its fixed identifier, like openai or local-llm."
          value={slug}
          maxLength={100}
          onChange={(e) => setSlug(e.target.value)}
          error={shown("slug")}
          autoComplete="off"
        />
      )}
      <TextField label="Name" value={name} maxLength={255} onChange={(e) => setName(e.target.value)} error={shown("name")} autoComplete="off" />
      {provider ? (
        <p className="text-sm">
          <span className="font-medium">Protocol:</span> {KIND_LABELS[provider.kind]}
        </p>
      ) : (
        <SelectField label="Protocol" value={kind} onChange={(e) => setKind(e.target.value as ProviderKind)} hint="How the platform speaks to its API.">
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {KIND_LABELS[k]}
            </option>
          ))}
        </SelectField>
      )}
      <fieldset disabled={!isAdmin} className="space-y-4">
        <TextField
          label="Base URL"
          hint="The API's root URL, like https://api.openai.com/v1."
          type="url"
          value={baseUrl}
          maxLength={2048}
          onChange={(e) => setBaseUrl(e.target.value)}
          error={shown("apiBaseUrl")}
          autoComplete="off"
        />
        <TextField
          label="Platform key variable"
          hint="The environment variable that holds the platform's key for this provider (one the operator allows). Empty: no platform key; people bring their own."
          value={keyName}
          maxLength={100}
          onChange={(e) => setKeyName(e.target.value.toUpperCase())}
          error={shown("envVarName")}
          autoComplete="off"
          spellCheck={false}
        />
      </fieldset>
      {!isAdmin && <p className="text-sm text-muted-foreground">Only platform administrators can change where a provider is called and which key it uses.</p>}
      <Switch label="Enabled" hint="Its available models are offered to people." checked={enabled} onChange={setEnabled} />
      <FormError message={formErrorText(save.error, Object.keys(errors))} />
      <DialogActions busy={save.isPending} submitLabel={provider ? "Save" : "Add provider"} onCancel={onDone} />
    </form>
  );
}

export function ProviderDialog({
  open,
  onOpenChange,
  provider,
  isAdmin,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  provider: Provider | null;
  isAdmin: boolean;
}) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title={provider ? `Edit ${provider.name}` : "Add a provider"}>
      <ProviderForm provider={provider} isAdmin={isAdmin} onDone={() => onOpenChange(false)} />
    </Dialog>
  );
}

// ------------------------------------------------------------------------------------------------ models

function tokensText(value: number | null): string {
  return value === null ? "" : String(value);
}

interface ModelFormProps {
  provider: Provider;
  model: Model | null;
  onDone: () => void;
}

function ModelForm({ provider, model, onDone }: ModelFormProps) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [displayName, setDisplayName] = useState(model?.displayName ?? "");
  const [apiName, setApiName] = useState(model?.apiName ?? "");
  const [description, setDescription] = useState(model?.description ?? "");
  const [contextWindow, setContextWindow] = useState(tokensText(model?.contextWindow ?? null));
  const [maxOutput, setMaxOutput] = useState(tokensText(model?.maxOutputTokens ?? null));
  const [inputPrice, setInputPrice] = useState(plainDecimal(model?.inputPricePerMillionTokens ?? null));
  const [outputPrice, setOutputPrice] = useState(plainDecimal(model?.outputPricePerMillionTokens ?? null));
  const [available, setAvailable] = useState(model?.isAvailable ?? true);
  const [checked, setChecked] = useState(false);

  const context = parseTokens(contextWindow, MAX_CONTEXT_WINDOW);
  const output = parseTokens(maxOutput, MAX_OUTPUT_TOKENS);
  const priceIn = parsePrice(inputPrice);
  const priceOut = parsePrice(outputPrice);
  const errors = {
    displayName: checkName(displayName, "model"),
    apiName: model ? undefined : !apiName.trim() ? "Give the name the provider's API knows it by." : apiName.length > 255 ? "At most 255 characters." : undefined,
    description: description.length > MAX_DESCRIPTION ? `At most ${MAX_DESCRIPTION} characters.` : undefined,
    contextWindow: context.error,
    maxOutputTokens: output.error,
    inputPricePerMillionTokens: priceIn.error,
    outputPricePerMillionTokens: priceOut.error,
  };

  const save = useMutation({
    mutationFn: async (): Promise<Model> => {
      const fields = {
        displayName: displayName.trim(),
        description: description.trim() || null,
        contextWindow: context.value,
        maxOutputTokens: output.value,
        inputPricePerMillionTokens: priceIn.value,
        outputPricePerMillionTokens: priceOut.value,
        isAvailable: available,
      };
      if (!model) {
        const body: ModelBody = { providerId: provider.id, apiName: apiName.trim(), ...fields };
        return (await unwrap(api.POST("/api/admin/ai-models", { body }))).model;
      }
      const change: ModelPatch = {};
      if (fields.displayName !== model.displayName) change.displayName = fields.displayName;
      if (fields.description !== model.description) change.description = fields.description;
      if (fields.contextWindow !== model.contextWindow) change.contextWindow = fields.contextWindow;
      if (fields.maxOutputTokens !== model.maxOutputTokens) change.maxOutputTokens = fields.maxOutputTokens;
      if (plainDecimal(fields.inputPricePerMillionTokens) !== plainDecimal(model.inputPricePerMillionTokens)) {
        change.inputPricePerMillionTokens = fields.inputPricePerMillionTokens;
      }
      if (plainDecimal(fields.outputPricePerMillionTokens) !== plainDecimal(model.outputPricePerMillionTokens)) {
        change.outputPricePerMillionTokens = fields.outputPricePerMillionTokens;
      }
      if (fields.isAvailable !== model.isAvailable) change.isAvailable = fields.isAvailable;
      const params = { path: { id: model.id } };
      return (await unwrap(api.PATCH("/api/admin/ai-models/{id}", { params, body: change }))).model;
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: catalogKeys.models });
      toast.success(model ? `${saved.displayName} saved` : `${saved.displayName} added`);
      onDone();
    },
  });
  const shown = (field: keyof typeof errors) => (checked ? errors[field] : undefined) ?? fieldError(save.error, field);

  function submit(event: FormEvent) {
    event.preventDefault();
    setChecked(true);
    if (Object.values(errors).some(Boolean)) return;
    save.mutate();
  }

  return (
    <form className="space-y-4" noValidate onSubmit={submit}>
      <TextField
        label="Display name"
        hint="What people see in the model picker."
        value={displayName}
        maxLength={255}
        onChange={(e) => setDisplayName(e.target.value)}
        error={shown("displayName")}
        autoComplete="off"
      />
      {model ? (
        <p className="text-sm">
          <span className="font-medium">API name:</span> <code className="rounded bg-muted px-1 py-0.5 text-xs">{model.apiName}</code>
        </p>
      ) : (
        <TextField
          label="API name"
          hint="The model's name in the provider's API, like gpt-4o or claude-sonnet-4."
          value={apiName}
          maxLength={255}
          onChange={(e) => setApiName(e.target.value)}
          error={shown("apiName")}
          autoComplete="off"
          spellCheck={false}
        />
      )}
      <TextAreaField
        label="Description"
        hint="Optional: what it is good at."
        value={description}
        maxLength={MAX_DESCRIPTION}
        onChange={(e) => setDescription(e.target.value)}
        error={shown("description")}
      />
      <div className="grid gap-4 sm:grid-cols-2">
        <TextField
          label="Context window"
          hint="Tokens; optional."
          inputMode="numeric"
          value={contextWindow}
          onChange={(e) => setContextWindow(e.target.value)}
          error={shown("contextWindow")}
          autoComplete="off"
        />
        <TextField
          label="Max output tokens"
          hint="Optional."
          inputMode="numeric"
          value={maxOutput}
          onChange={(e) => setMaxOutput(e.target.value)}
          error={shown("maxOutputTokens")}
          autoComplete="off"
        />
        <TextField
          label="Input price per million tokens"
          hint="Optional."
          inputMode="decimal"
          value={inputPrice}
          onChange={(e) => setInputPrice(e.target.value)}
          error={shown("inputPricePerMillionTokens")}
          autoComplete="off"
        />
        <TextField
          label="Output price per million tokens"
          hint="Optional."
          inputMode="decimal"
          value={outputPrice}
          onChange={(e) => setOutputPrice(e.target.value)}
          error={shown("outputPricePerMillionTokens")}
          autoComplete="off"
        />
      </div>
      <Switch label="Enabled" hint="Offered to people while its provider is enabled." checked={available} onChange={setAvailable} />
      <FormError message={formErrorText(save.error, Object.keys(errors))} />
      <DialogActions busy={save.isPending} submitLabel={model ? "Save" : "Add model"} onCancel={onDone} />
    </form>
  );
}

export function ModelDialog({
  open,
  onOpenChange,
  provider,
  model,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  provider: Provider;
  model: Model | null;
}) {
  return (
    <Dialog
      open={open}
      onOpenChange={onOpenChange}
      title={model ? `Edit ${model.displayName}` : `Add a model to ${provider.name}`}
      description={model ? `A model of ${provider.name}.` : undefined}
    >
      <ModelForm provider={provider} model={model} onDone={() => onOpenChange(false)} />
    </Dialog>
  );
}

// ------------------------------------------------------------------------------------------------ removal

/** Asks before a removal; the API's refusal stays in the dialog. */
export function ConfirmRemoval({
  open,
  onOpenChange,
  title,
  description,
  confirmLabel,
  remove,
  success,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  remove: () => Promise<unknown>;
  success: string;
}) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const removal = useMutation({
    mutationFn: remove,
    onSuccess: () => {
      // A provider takes its models with it.
      void queryClient.invalidateQueries({ queryKey: catalogKeys.providers });
      void queryClient.invalidateQueries({ queryKey: catalogKeys.models });
      toast.success(success);
      onOpenChange(false);
    },
  });
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        if (!next) removal.reset();
        onOpenChange(next);
      }}
      title={title}
      description={description}
    >
      <div className="space-y-4">
        <FormError message={removal.error ? errorText(removal.error) : null} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)} disabled={removal.isPending}>
            Cancel
          </Button>
          <Button variant="danger" busy={removal.isPending} onClick={() => removal.mutate()}>
            {confirmLabel}
          </Button>
        </div>
      </div>
    </Dialog>
  );
}
