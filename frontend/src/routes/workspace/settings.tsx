import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError, TextAreaField, TextField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { useToast } from "@/components/ui/toast";
import type { PanelProps } from "./workspace";

function General({ project, access }: PanelProps) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [values, setValues] = useState({
    name: project.name,
    slug: project.slug,
    description: project.description ?? "",
    installCommand: project.installCommand ?? "",
    buildCommand: project.buildCommand ?? "",
    startCommand: project.startCommand ?? "",
  });
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/api/projects/{id}", {
          params: { path: { id: project.id } },
          body: {
            name: values.name,
            ...(values.slug !== project.slug ? { slug: values.slug } : {}),
            description: values.description,
            installCommand: values.installCommand,
            buildCommand: values.buildCommand,
            startCommand: values.startCommand,
          },
        }),
      ),
    onSuccess: () => {
      toast.success("Project saved");
      void queryClient.invalidateQueries({ queryKey: ["project", project.id] });
      void queryClient.invalidateQueries({ queryKey: ["projects"] });
    },
  });
  const field = (key: keyof typeof values) => ({
    value: values[key],
    disabled: !access.manage,
    onChange: (event: { target: { value: string } }) => setValues((current) => ({ ...current, [key]: event.target.value })),
  });
  return (
    <Section title="General" description={access.manage ? undefined : "Only those who may manage the project can change these."}>
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
      >
        <FormError message={save.error ? errorText(save.error) : null} />
        <TextField label="Name" {...field("name")} />
        <TextField
          label="Slug"
          className="font-mono"
          hint="Lowercase letters, digits and hyphens; names the project in its deploy address."
          {...field("slug")}
        />
        <TextAreaField label="Description" rows={3} {...field("description")} />
        <div className="grid gap-4 sm:grid-cols-3">
          <TextField label="Install command" className="font-mono" {...field("installCommand")} />
          <TextField label="Build command" {...field("buildCommand")} />
          <TextField label="Start command" {...field("startCommand")} />
        </div>
        {access.manage && (
          <Button type="submit" busy={save.isPending}>
            Save
          </Button>
        )}
      </form>
    </Section>
  );
}

function EnvironmentVariables({ project, access }: PanelProps) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const variables = project.environmentVariables ?? [];
  const change = useMutation({
    mutationFn: (changes: Record<string, string | null>) =>
      unwrap(api.PATCH("/api/projects/{id}", { params: { path: { id: project.id } }, body: { environmentVariables: changes } })),
    onSuccess: () => {
      setName("");
      setValue("");
      void queryClient.invalidateQueries({ queryKey: ["project", project.id] });
    },
    onError: (error) => toast.error(errorText(error)),
  });
  if (!access.manage) return null;
  return (
    <Section title="Environment variables" description="Values are encrypted and never shown here: set a new value to replace one.">
      <ul className="divide-y divide-border">
        {variables.length === 0 && <li className="py-2 text-sm text-muted-foreground">No variables yet.</li>}
        {variables.map((variable) => (
          <li key={variable.name} className="flex items-center gap-3 py-2">
            <span className="mr-auto font-mono text-sm">{variable.name}</span>
            <span className="text-xs text-muted-foreground" data-testid="env-value">
              ••••••••
            </span>
            <Button variant="ghost" size="sm" onClick={() => change.mutate({ [variable.name]: null })} aria-label={`Remove ${variable.name}`}>
              Remove
            </Button>
          </li>
        ))}
      </ul>
      <form
        className="mt-4 grid gap-3 sm:grid-cols-[1fr_1fr_auto] sm:items-end"
        onSubmit={(event) => {
          event.preventDefault();
          change.mutate({ [name.trim()]: value });
        }}
      >
        <TextField label="Name" placeholder="API_URL" value={name} onChange={(e) => setName(e.target.value)} />
        <TextField label="Value" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
        <Button type="submit" busy={change.isPending} disabled={!name.trim()}>
          Set
        </Button>
      </form>
    </Section>
  );
}

function DeleteProject({ project, access }: PanelProps) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [confirm, setConfirm] = useState("");
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/projects/{id}", { params: { path: { id: project.id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["projects"] });
      navigate("/");
    },
  });
  if (!access.manage) return null;
  return (
    <Section title="Delete project" description="Deletes its files, chats and every version. This cannot be undone.">
      <Button variant="danger" onClick={() => setOpen(true)}>
        Delete {project.name}
      </Button>
      <Dialog open={open} onOpenChange={setOpen} title={`Delete ${project.name}?`} description="Type the project's name to confirm.">
        <div className="space-y-4">
          <FormError message={remove.error ? errorText(remove.error) : null} />
          <TextField label="Project name" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button variant="danger" disabled={confirm !== project.name} busy={remove.isPending} onClick={() => remove.mutate()}>
              Delete forever
            </Button>
          </div>
        </div>
      </Dialog>
    </Section>
  );
}

export function SettingsPanel(props: PanelProps) {
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-3xl space-y-6 p-4">
        <General {...props} />
        <EnvironmentVariables {...props} />
        <DeleteProject {...props} />
      </div>
    </div>
  );
}
