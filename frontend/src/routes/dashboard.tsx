import { zodResolver } from "@hookform/resolvers/zod";
import { keepPreviousData, useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { useForm } from "react-hook-form";
import { Link, useNavigate } from "react-router";
import { z } from "zod";
import { api, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { ErrorNotice } from "@/components/plan-limit";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { TextAreaField, TextField } from "@/components/ui/field";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { useCurrentOrganization, type Organization } from "@/lib/organization";
import { useDebounced } from "@/lib/debounce";
import { relativeTime } from "@/lib/time";

type Project = components["schemas"]["Project"];

const createSchema = z.object({
  name: z.string().trim().min(1, "Give the project a name.").max(255),
  description: z.string().max(2000),
  template: z.string().min(1),
});

function CreateProjectDialog({ organization, open, onOpenChange }: { organization: Organization; open: boolean; onOpenChange: (open: boolean) => void }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const templates = useQuery({
    queryKey: ["project-templates"],
    queryFn: () => unwrap(api.GET("/api/project-templates")),
    enabled: open,
  });
  const form = useForm({ resolver: zodResolver(createSchema), defaultValues: { name: "", description: "", template: "" } });
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const preferred = templates.data?.items.find((t) => t.default) ?? templates.data?.items[0];
    if (preferred && !form.getValues("template")) form.setValue("template", preferred.id);
  }, [templates.data, form]);

  const onSubmit = form.handleSubmit(async ({ name, description, template }) => {
    setError(null);
    try {
      const created = await unwrap(
        api.POST("/api/projects", { body: { organizationId: organization.id, name, description: description || null, template } }),
      );
      await queryClient.invalidateQueries({ queryKey: ["projects", organization.id] });
      onOpenChange(false);
      navigate(`/projects/${created.project.id}`);
    } catch (caught) {
      setError(caught);
    }
  });

  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="New project" description={`In ${organization.name}`}>
      <form onSubmit={onSubmit} className="space-y-4" noValidate>
        <ErrorNotice error={error} organizationId={organization.id} fallback="We could not create the project. Try again." />
        <TextField label="Name" autoFocus {...form.register("name")} error={form.formState.errors.name?.message} />
        <TextAreaField label="What are you building? (optional)" {...form.register("description")} rows={3} />
        <fieldset className="space-y-2">
          <legend className="text-sm font-medium">Start from</legend>
          {templates.isLoading && <Skeleton className="h-16 w-full" />}
          {templates.data?.items.map((template) => (
            <label
              key={template.id}
              className="flex cursor-pointer gap-3 rounded-md border border-border p-3 has-[:checked]:border-primary has-[:checked]:bg-primary/5"
            >
              <input type="radio" value={template.id} className="mt-1 accent-primary" {...form.register("template")} />
              <span>
                <span className="block text-sm font-medium">{template.name}</span>
                <span className="block text-sm text-muted-foreground">{template.description}</span>
              </span>
            </label>
          ))}
        </fieldset>
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" busy={form.formState.isSubmitting}>
            Create project
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function ProjectCard({ project }: { project: Project }) {
  return (
    <li>
      <Link
        to={`/projects/${project.id}`}
        className="block h-full rounded-lg border border-border bg-surface p-4 transition-colors hover:border-primary/60 focus-visible:border-primary"
      >
        <div className="flex items-start justify-between gap-2">
          <h3 className="truncate font-medium">{project.name}</h3>
          <span className="shrink-0 rounded-full bg-muted px-2 py-0.5 text-xs text-muted-foreground">{project.status}</span>
        </div>
        <p className="mt-1 line-clamp-2 min-h-10 text-sm text-muted-foreground">{project.description || "No description yet."}</p>
        <p className="mt-3 text-xs text-muted-foreground">Updated {relativeTime(project.updatedAt)}</p>
      </Link>
    </li>
  );
}

// What happened lately: the organization's audit trail for those who may read it (its owners,
// as the permission table says), otherwise the projects changed most recently.
const ACTIVITY_LABELS: Record<string, string> = {
  "project.create": "created a project",
  "project.update": "changed a project's settings",
  "project.delete": "deleted a project",
  "version.restore": "restored a version",
  "preview.build": "built a preview",
  "member.invite": "invited someone",
  "member.update": "changed a member's role",
  "member.remove": "removed a member",
  "invitation.revoke": "revoked an invitation",
  "member.add": "someone joined",
  "member.leave": "someone left",
  "chat.delete": "deleted a chat",
  "organization.update": "renamed the organization",
  "import.create": "started an import",
  "import.analyze": "analyzed an import",
  "import.start": "imported apps",
};

function RecentActivity({ organization, projects }: { organization: Organization; projects: Project[] }) {
  const canAudit = organization.role === "owner";
  const audit = useQuery({
    queryKey: ["audit", organization.id, "recent"],
    enabled: canAudit,
    queryFn: () => unwrap(api.GET("/api/organizations/{id}/audit-logs", { params: { path: { id: organization.id }, query: { limit: 8 } } })),
    select: (page) => page.items,
  });
  const recent = [...projects].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, 5);
  return (
    <aside aria-labelledby="activity-heading" className="self-start rounded-lg border border-border bg-surface p-4">
      <h2 id="activity-heading" className="text-sm font-medium">
        Recent activity
      </h2>
      {canAudit ? (
        audit.isLoading ? (
          <Skeleton className="mt-3 h-24 w-full" />
        ) : (
          <ul className="mt-3 space-y-2 text-sm">
            {(audit.data ?? []).map((entry) => (
              <li key={entry.id} className="flex justify-between gap-2">
                <span className="truncate">{ACTIVITY_LABELS[entry.action] ?? entry.action}</span>
                <span className="shrink-0 text-xs text-muted-foreground">{relativeTime(entry.createdAt)}</span>
              </li>
            ))}
            {audit.data?.length === 0 && <li className="text-muted-foreground">Nothing yet.</li>}
          </ul>
        )
      ) : (
        <ul className="mt-3 space-y-2 text-sm">
          {recent.map((project) => (
            <li key={project.id} className="flex justify-between gap-2">
              <Link to={`/projects/${project.id}`} className="truncate hover:underline">
                {project.name}
              </Link>
              <span className="shrink-0 text-xs text-muted-foreground">{relativeTime(project.updatedAt)}</span>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

export function DashboardPage() {
  const { organization, isLoading } = useCurrentOrganization();
  const [search, setSearch] = useState("");
  // The server searches every project, not only the pages loaded so far; typing waits a moment.
  const query = useDebounced(search.trim(), 250);
  const [creating, setCreating] = useState(false);
  const toast = useToast();
  const canCreate = organization?.role === "owner" || organization?.role === "admin";
  const projects = useInfiniteQuery({
    queryKey: ["projects", organization?.id, query],
    enabled: Boolean(organization),
    initialPageParam: null as string | null,
    placeholderData: keepPreviousData,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/projects", {
          params: {
            query: { organizationId: organization?.id, limit: 24, ...(query ? { q: query } : {}), ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
  useEffect(() => {
    if (projects.error) toast.error(projects.error.message);
  }, [projects.error, toast]);

  const sentinel = useRef<HTMLDivElement>(null);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = projects;
  useEffect(() => {
    const node = sentinel.current;
    if (!node) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && hasNextPage && !isFetchingNextPage) void fetchNextPage();
    });
    observer.observe(node);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const items = useMemo(() => projects.data?.pages.flatMap((page) => page.items) ?? [], [projects.data]);

  if (isLoading) return <div className="p-6"><Skeleton className="h-8 w-48" /></div>;
  if (!organization) {
    return <div className="p-6 text-sm text-muted-foreground">You do not belong to an organization yet.</div>;
  }

  return (
    <div className="mx-auto max-w-6xl px-4 py-6 sm:px-6">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="mr-auto text-2xl font-semibold">Projects</h1>
        <input
          type="search"
          aria-label="Search projects"
          placeholder="Search projects"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
          className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm sm:w-64"
        />
        {canCreate && (
          <Link
            to="/import"
            className="inline-flex h-10 items-center justify-center rounded-md border border-border bg-surface px-4 text-sm font-medium text-foreground hover:bg-muted"
          >
            Import from the desktop app
          </Link>
        )}
        {canCreate && <Button onClick={() => setCreating(true)}>New project</Button>}
      </div>
      {projects.isLoading ? (
        <ul className="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-label="Loading projects">
          {Array.from({ length: 6 }, (_, i) => (
            <li key={i}>
              <Skeleton className="h-32 w-full" />
            </li>
          ))}
        </ul>
      ) : items.length === 0 ? (
        <div className="mt-10 rounded-lg border border-dashed border-border p-10 text-center">
          <h2 className="text-lg font-medium">{search ? "No project matches your search" : "No projects yet"}</h2>
          <p className="mt-1 text-sm text-muted-foreground">
            {search
              ? "Try another word, or clear the search."
              : canCreate
                ? "Create one from a template, then describe what you want in the chat."
                : "Ask an owner or admin of this organization to create one."}
          </p>
          {canCreate && !search && (
            <Button className="mt-4" onClick={() => setCreating(true)}>
              Create your first project
            </Button>
          )}
        </div>
      ) : (
        <div className="mt-6 grid gap-6 lg:grid-cols-[1fr_18rem]">
          <div>
            <ul className={cn("grid gap-4 sm:grid-cols-2 xl:grid-cols-3", projects.isPlaceholderData && "opacity-60")} aria-label="Projects">
              {items.map((project) => (
                <ProjectCard key={project.id} project={project} />
              ))}
            </ul>
            <div ref={sentinel} className="h-8" aria-hidden="true" />
            {isFetchingNextPage && <Skeleton className="h-8 w-full" />}
          </div>
          <RecentActivity organization={organization} projects={items} />
        </div>
      )}
      <CreateProjectDialog organization={organization} open={creating} onOpenChange={setCreating} />
    </div>
  );
}
