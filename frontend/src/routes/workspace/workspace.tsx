import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useState } from "react";
import { Group, Panel, Separator } from "react-resizable-panels";
import { NavLink, Route, Routes, useParams } from "react-router";
import { api, ApiError, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { useProjectAccess, type ProjectAccess } from "./access";
import { ChatPanel } from "./chat";
import { EditorSessionProvider } from "./editor-session";

export type Project = components["schemas"]["Project"];

const CodePanel = lazy(() => import("./code").then((m) => ({ default: m.CodePanel })));
const VersionsPanel = lazy(() => import("./versions").then((m) => ({ default: m.VersionsPanel })));
const DesignPanel = lazy(() => import("./design/panel").then((m) => ({ default: m.DesignPanel })));
const PreviewPanel = lazy(() => import("./preview/panel").then((m) => ({ default: m.PreviewPanel })));
const DeployPanel = lazy(() => import("./deploy").then((m) => ({ default: m.DeployPanel })));
const SettingsPanel = lazy(() => import("./settings").then((m) => ({ default: m.SettingsPanel })));

export interface PanelProps {
  project: Project;
  access: ProjectAccess;
}

function useWide(): boolean {
  const query = "(min-width: 900px)";
  const [wide, setWide] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const media = window.matchMedia(query);
    const update = () => setWide(media.matches);
    media.addEventListener("change", update);
    return () => media.removeEventListener("change", update);
  }, []);
  return wide;
}

const tab = ({ isActive }: { isActive: boolean }) =>
  cn("whitespace-nowrap rounded-md px-3 py-1.5 text-sm", isActive ? "bg-muted font-medium" : "text-muted-foreground hover:text-foreground");

function Tabs({ base, compact }: { base: string; compact: boolean }) {
  return (
    <nav aria-label="Project" className="flex gap-1 overflow-x-auto">
      {compact && (
        <NavLink to={`${base}/chat`} className={tab}>
          Chat
        </NavLink>
      )}
      <NavLink to={base} end className={tab}>
        Code
      </NavLink>
      <NavLink to={`${base}/versions`} className={tab}>
        Versions
      </NavLink>
      <NavLink to={`${base}/preview`} className={tab}>
        Preview
      </NavLink>
      <NavLink to={`${base}/design`} className={tab}>
        Design
      </NavLink>
      <NavLink to={`${base}/deploy`} className={tab}>
        Deploy
      </NavLink>
      <NavLink to={`${base}/settings`} className={tab}>
        Settings
      </NavLink>
    </nav>
  );
}

function Loading() {
  return (
    <div className="flex h-full items-center justify-center" role="status">
      <Spinner className="h-5 w-5 text-muted-foreground" />
      <span className="sr-only">Loading…</span>
    </div>
  );
}

export function WorkspacePage() {
  const { projectId = "" } = useParams();
  const wide = useWide();
  const project = useQuery({
    queryKey: ["project", projectId],
    queryFn: () => unwrap(api.GET("/api/projects/{id}", { params: { path: { id: projectId } } })),
    select: (envelope) => envelope.project,
  });
  const access = useProjectAccess(project.data?.organizationId);

  if (project.isLoading) return <div className="p-6"><Skeleton className="h-96 w-full" /></div>;
  if (project.error || !project.data) {
    const missing = project.error instanceof ApiError && project.error.status === 404;
    return (
      <div className="mx-auto max-w-md px-4 py-16 text-center">
        <h1 className="text-xl font-semibold">{missing ? "No such project" : "The project could not be loaded"}</h1>
        <p className="mt-2 text-sm text-muted-foreground">
          {missing ? "It was deleted, or it belongs to an organization you are not in." : project.error?.message}
        </p>
      </div>
    );
  }
  const base = `/projects/${project.data.id}`;
  const props: PanelProps = { project: project.data, access };
  const panels = (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route index element={<CodePanel {...props} />} />
        <Route path="versions" element={<VersionsPanel {...props} />} />
        <Route path="preview" element={<PreviewPanel {...props} />} />
        <Route path="design" element={<DesignPanel {...props} />} />
        <Route path="deploy" element={<DeployPanel {...props} />} />
        <Route path="settings" element={<SettingsPanel {...props} />} />
        <Route path="chat" element={wide ? <CodePanel {...props} /> : <ChatPanel {...props} />} />
      </Routes>
    </Suspense>
  );
  return (
    <EditorSessionProvider key={project.data.id}>
    <div className="flex h-[calc(100vh-3.5rem)] flex-col max-md:h-[calc(100vh-6rem)]">
      <div className="flex items-center gap-3 border-b border-border bg-surface px-3 py-2">
        <h1 className="truncate font-semibold" title={project.data.name}>
          {project.data.name}
        </h1>
        {!access.edit && <span className="rounded-full bg-muted px-2 py-0.5 text-xs text-muted-foreground">Read only</span>}
        <div className="ml-auto min-w-0">
          <Tabs base={base} compact={!wide} />
        </div>
      </div>
      <div className="min-h-0 flex-1">
        {wide ? (
          <Group orientation="horizontal" className="h-full">
            <Panel defaultSize="38" minSize={320} className="border-r border-border">
              <ChatPanel {...props} />
            </Panel>
            <Separator className="w-1 bg-border/60 transition-colors hover:bg-primary data-[separator=active]:bg-primary" />
            <Panel minSize={360}>{panels}</Panel>
          </Group>
        ) : (
          panels
        )}
      </div>
    </div>
    </EditorSessionProvider>
  );
}
