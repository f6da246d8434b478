// /admin/ai: the AI catalog, the providers and their models. Administrators and co-admins manage models and
// switch providers on and off; where a provider is called and which platform key it uses are the
// administrators' alone (the API refuses a co-admin's request that carries either), so only they add one.
// Keys never appear: a provider only names the environment variable its platform key is read from.

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { useAuth } from "@/auth/auth";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { EmptyState, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { isPlatformAdmin } from "./access";
import { ConfirmRemoval, ModelDialog, ProviderDialog } from "./ai-dialogs";
import { catalogKeys, KIND_LABELS, plainDecimal, useModels, useProviders, type Model, type Provider } from "./ai-data";

const count = new Intl.NumberFormat();

type ModelList = { items: Model[] };
type ProviderList = { items: Provider[] };

function tokens(value: number | null): string {
  return value === null ? "—" : count.format(value);
}

function price(value: string | null): string {
  return value === null ? "—" : plainDecimal(value);
}

/** A switch that saves at once: it shows the value being saved until the API answers (the saved one after,
 * or the old one again if the API refused). */
function LiveSwitch({ label, checked, save }: { label: string; checked: boolean; save: (next: boolean, settled: () => void) => void }) {
  const [saving, setSaving] = useState<boolean | null>(null);
  return (
    <input
      type="checkbox"
      role="switch"
      aria-label={label}
      className="h-5 w-5 cursor-pointer accent-primary disabled:cursor-wait"
      checked={saving ?? checked}
      disabled={saving !== null}
      onChange={(e) => {
        const next = e.target.checked;
        setSaving(next);
        save(next, () => setSaving(null));
      }}
    />
  );
}

function useToggleModel(model: Model) {
  const queryClient = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (isAvailable: boolean) =>
      unwrap(api.PATCH("/api/admin/ai-models/{id}", { params: { path: { id: model.id } }, body: { isAvailable } })),
    onSuccess: ({ model: saved }) => {
      queryClient.setQueryData<ModelList>(catalogKeys.models, (list) =>
        list ? { ...list, items: list.items.map((m) => (m.id === saved.id ? saved : m)) } : list,
      );
      toast.success(saved.isAvailable ? `${saved.displayName} enabled` : `${saved.displayName} disabled`);
    },
    onError: (error) => toast.error(errorText(error), `${model.displayName} was not changed`),
  });
}

function useToggleProvider(provider: Provider) {
  const queryClient = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (isEnabled: boolean) =>
      unwrap(api.PATCH("/api/admin/ai-providers/{id}", { params: { path: { id: provider.id } }, body: { isEnabled } })),
    onSuccess: ({ provider: saved }) => {
      queryClient.setQueryData<ProviderList>(catalogKeys.providers, (list) =>
        list ? { ...list, items: list.items.map((p) => (p.id === saved.id ? saved : p)) } : list,
      );
      toast.success(saved.isEnabled ? `${saved.name} enabled` : `${saved.name} disabled`);
    },
    onError: (error) => toast.error(errorText(error), `${provider.name} was not changed`),
  });
}

function ModelRow({ model, onEdit, onRemove }: { model: Model; onEdit: () => void; onRemove: () => void }) {
  const toggle = useToggleModel(model);
  return (
    <tr className="border-t border-border align-top">
      <th scope="row" className="py-2 pr-4 text-left font-medium">
        {model.displayName}
        {model.description && <p className="max-w-xs text-xs font-normal text-muted-foreground">{model.description}</p>}
      </th>
      <td className="py-2 pr-4">
        <code className="break-all rounded bg-muted px-1 py-0.5 text-xs">{model.apiName}</code>
      </td>
      <td className="py-2 pr-4 text-right tabular-nums">{tokens(model.contextWindow)}</td>
      <td className="py-2 pr-4 text-right tabular-nums">{tokens(model.maxOutputTokens)}</td>
      <td className="py-2 pr-4 text-right tabular-nums">{price(model.inputPricePerMillionTokens)}</td>
      <td className="py-2 pr-4 text-right tabular-nums">{price(model.outputPricePerMillionTokens)}</td>
      <td className="py-2 pr-4">
        <LiveSwitch
          label={`${model.displayName} enabled`}
          checked={model.isAvailable}
          save={(next, settled) => toggle.mutate(next, { onSettled: settled })}
        />
      </td>
      <td className="py-1 text-right whitespace-nowrap">
        <Button variant="ghost" size="sm" aria-label={`Edit ${model.displayName}`} onClick={onEdit}>
          Edit
        </Button>
        <Button variant="ghost" size="sm" className="text-danger" aria-label={`Remove ${model.displayName}`} onClick={onRemove}>
          Remove
        </Button>
      </td>
    </tr>
  );
}

type Open =
  | { kind: "provider"; provider: Provider | null }
  | { kind: "remove-provider"; provider: Provider; models: number }
  | { kind: "model"; provider: Provider; model: Model | null }
  | { kind: "remove-model"; model: Model };

function ProviderSection({ provider, models, onOpen }: { provider: Provider; models: Model[]; onOpen: (open: Open) => void }) {
  const toggle = useToggleProvider(provider);
  const modelCount = `${models.length} ${models.length === 1 ? "model" : "models"}`;
  return (
    <Section
      title={provider.name}
      description={
        <>
          {KIND_LABELS[provider.kind]}
          {provider.isBuiltin && " · built in"} · {modelCount} · <span className="break-all">{provider.apiBaseUrl}</span>
        </>
      }
      actions={
        <div className="flex flex-wrap items-center gap-2">
          <div className="mr-2 flex items-center gap-2 text-sm">
            <LiveSwitch
              label={`${provider.name} enabled`}
              checked={provider.isEnabled}
              save={(next, settled) => toggle.mutate(next, { onSettled: settled })}
            />
            <span className={provider.isEnabled ? "font-medium text-success" : "text-muted-foreground"}>
              {provider.isEnabled ? "Enabled" : "Disabled"}
            </span>
          </div>
          <Button variant="secondary" size="sm" aria-label={`Edit ${provider.name}`} onClick={() => onOpen({ kind: "provider", provider })}>
            Edit
          </Button>
          <Button variant="secondary" size="sm" aria-label={`Remove ${provider.name}`} onClick={() => onOpen({ kind: "remove-provider", provider, models: models.length })}>
            Remove
          </Button>
        </div>
      }
    >
      <div className="space-y-4">
        <dl className="grid gap-x-6 gap-y-1 text-sm sm:grid-cols-[auto_1fr]">
          <dt className="text-muted-foreground">Slug</dt>
          <dd>
            <code className="rounded bg-muted px-1 py-0.5 text-xs">{provider.slug}</code>
          </dd>
          <dt className="text-muted-foreground">Platform key</dt>
          <dd>
            {provider.envVarName ? (
              <>
                Read from <code className="rounded bg-muted px-1 py-0.5 text-xs">{provider.envVarName}</code> on the server (metered against each
                organization&apos;s AI tokens):{" "}
                {provider.hasPlatformKey ? (
                  <span className="font-medium text-success">set</span>
                ) : (
                  <span className="font-medium text-warning">not set, so only people with their own key can use it</span>
                )}
              </>
            ) : (
              "None: people use their own key"
            )}
          </dd>
        </dl>
        {models.length === 0 ? (
          <EmptyState>No models yet: people cannot pick anything of {provider.name}.</EmptyState>
        ) : (
          // Zero width, then the parent's: a wide table scrolls here instead of widening the page on a phone.
          <div className="relative w-0 min-w-full overflow-x-auto">
            <table className="w-full min-w-[52rem] table-fixed text-sm" aria-label={`Models of ${provider.name}`}>
              {/* The same columns in every provider's table. */}
              <colgroup>
                <col className="w-[22%]" />
                <col className="w-[18%]" />
                <col className="w-[10%]" />
                <col className="w-[9%]" />
                <col className="w-[10%]" />
                <col className="w-[10%]" />
                <col className="w-[7%]" />
                <col className="w-[14%]" />
              </colgroup>
              <thead className="text-left text-xs text-muted-foreground">
                <tr>
                  <th scope="col" className="pb-2 pr-4 font-medium">
                    Model
                  </th>
                  <th scope="col" className="pb-2 pr-4 font-medium">
                    API name
                  </th>
                  <th scope="col" className="pb-2 pr-4 text-right font-medium">
                    Context window
                  </th>
                  <th scope="col" className="pb-2 pr-4 text-right font-medium">
                    Max output
                  </th>
                  <th scope="col" className="pb-2 pr-4 text-right font-medium">
                    Input price / 1M tokens
                  </th>
                  <th scope="col" className="pb-2 pr-4 text-right font-medium">
                    Output price / 1M tokens
                  </th>
                  <th scope="col" className="pb-2 pr-4 font-medium">
                    Enabled
                  </th>
                  <th scope="col" className="pb-2 font-medium">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {models.map((model) => (
                  <ModelRow
                    key={model.id}
                    model={model}
                    onEdit={() => onOpen({ kind: "model", provider, model })}
                    onRemove={() => onOpen({ kind: "remove-model", model })}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Button size="sm" variant="secondary" onClick={() => onOpen({ kind: "model", provider, model: null })}>
          Add a model to {provider.name}
        </Button>
      </div>
    </Section>
  );
}

function Dialogs({ open, onClose, isAdmin }: { open: Open | null; onClose: () => void; isAdmin: boolean }) {
  const close = (next: boolean) => {
    if (!next) onClose();
  };
  if (!open) return null;
  switch (open.kind) {
    case "provider":
      return <ProviderDialog open onOpenChange={close} provider={open.provider} isAdmin={isAdmin} />;
    case "model":
      return <ModelDialog open onOpenChange={close} provider={open.provider} model={open.model} />;
    case "remove-provider": {
      const { provider, models } = open;
      return (
        <ConfirmRemoval
          open
          onOpenChange={close}
          title={`Remove ${provider.name}?`}
          description={
            models > 0
              ? `Its ${models} ${models === 1 ? "model goes" : "models go"} with it: people can no longer pick ${models === 1 ? "it" : "them"}, and keys people saved for it are deleted.`
              : "Keys people saved for it are deleted."
          }
          confirmLabel="Remove provider"
          remove={() => unwrap(api.DELETE("/api/admin/ai-providers/{id}", { params: { path: { id: provider.id } } }))}
          success={`${provider.name} removed`}
        />
      );
    }
    case "remove-model": {
      const { model } = open;
      return (
        <ConfirmRemoval
          open
          onOpenChange={close}
          title={`Remove ${model.displayName}?`}
          description="People can no longer pick it. Switching it off instead keeps its settings for later."
          confirmLabel="Remove model"
          remove={() => unwrap(api.DELETE("/api/admin/ai-models/{id}", { params: { path: { id: model.id } } }))}
          success={`${model.displayName} removed`}
        />
      );
    }
  }
}

export function AiCatalogScreen() {
  const { user } = useAuth();
  const isAdmin = isPlatformAdmin(user);
  const providers = useProviders();
  const models = useModels();
  const [open, setOpen] = useState<Open | null>(null);
  const error = providers.error ?? models.error;

  return (
    <div className="mt-6 space-y-8">
      <div className="flex flex-wrap items-center gap-3">
        <div className="mr-auto">
          <h1 className="text-2xl font-semibold">AI catalog</h1>
          <p className="text-sm text-muted-foreground">The providers the platform calls and the models people can pick.</p>
        </div>
        {isAdmin ? (
          <Button onClick={() => setOpen({ kind: "provider", provider: null })}>Add a provider</Button>
        ) : (
          <p className="text-sm text-muted-foreground">Only platform administrators add providers.</p>
        )}
      </div>
      {error ? (
        <FormError message={errorText(error)} />
      ) : !providers.data || !models.data ? (
        <div className="space-y-4" aria-busy="true" aria-label="Loading the catalog">
          <Skeleton className="h-48 w-full" />
          <Skeleton className="h-48 w-full" />
        </div>
      ) : providers.data.length === 0 ? (
        <EmptyState>
          {isAdmin ? "No providers yet: add one to offer its models." : "No providers yet: a platform administrator adds them."}
        </EmptyState>
      ) : (
        <div className="space-y-6">
          {providers.data.map((provider) => (
            <ProviderSection
              key={provider.id}
              provider={provider}
              models={models.data.filter((model) => model.providerId === provider.id)}
              onOpen={setOpen}
            />
          ))}
        </div>
      )}
      <Dialogs open={open} onClose={() => setOpen(null)} isAdmin={isAdmin} />
    </div>
  );
}
