import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Button } from "@/components/ui/button";
import { Page, Section } from "@/components/ui/page";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { useCurrentOrganization } from "@/lib/organization";
import { ChooseApps } from "./analysis";
import { fetchImport, importKeys, isWorking, type Import } from "./data";
import { ImportHistory } from "./history";
import { ImportError, PickFiles, UploadList, type UploadProgress } from "./pick-files";
import { ImportProgress } from "./progress";

// How often the page asks how an analysis or an import is going.
const POLL_MS = 1000;

/** Where an import stands once its files are in: analyzing, the analysis to choose from, the import and its result. */
function CurrentImport({
  id,
  uploads,
  fromUpload,
  onStartOver,
}: {
  id: string;
  uploads: UploadProgress[] | null;
  /** Whether the page just uploaded its files (focus goes to the new step, as after every later step). */
  fromUpload: boolean;
  onStartOver: () => void;
}) {
  const queryClient = useQueryClient();
  const found = useQuery({
    queryKey: importKeys.one(id),
    queryFn: () => fetchImport(id),
    refetchInterval: (query) => (query.state.data && isWorking(query.state.data.status) ? POLL_MS : false),
  });
  const status = found.data?.status;
  // Each step replaces the last (and the button that led to it): keyboard and screen reader users go on
  // from the new step's heading.
  const step = useRef<HTMLDivElement>(null);
  const seen = useRef<string | undefined>(fromUpload ? "uploading" : undefined);
  useEffect(() => {
    if (!status) return;
    if (seen.current !== undefined && seen.current !== status) {
      const heading = step.current?.querySelector("h2");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      }
    }
    seen.current = status;
  }, [status]);
  // The history shows each import's state: refresh it whenever this one moves on.
  const organizationId = found.data?.organizationId;
  useEffect(() => {
    if (organizationId) void queryClient.invalidateQueries({ queryKey: importKeys.history(organizationId) });
  }, [status, organizationId, queryClient]);

  if (found.isLoading) return <Skeleton className="h-40 w-full" />;
  if (found.error || !found.data) {
    return (
      <Section title="This import">
        <ImportError error={found.error} />
        <Button variant="secondary" className="mt-4" onClick={onStartOver}>
          Start a new import
        </Button>
      </Section>
    );
  }
  return (
    <div ref={step}>
      <ImportStep
        theImport={found.data}
        uploads={uploads}
        onStartOver={onStartOver}
        onStarted={(next) => queryClient.setQueryData(importKeys.one(id), next)}
      />
    </div>
  );
}

function ImportStep({
  theImport,
  uploads,
  onStartOver,
  onStarted,
}: {
  theImport: Import;
  uploads: UploadProgress[] | null;
  onStartOver: () => void;
  onStarted: (next: Import) => void;
}) {

  if (theImport.status === "uploading") {
    return (
      <Section title="1. Choose the files">
        <p className="text-sm">The files of this import were not all uploaded. Start a new import to choose them again.</p>
        <Button className="mt-4" onClick={onStartOver}>
          Start a new import
        </Button>
      </Section>
    );
  }
  if (theImport.status === "analyzing") {
    return (
      <Section title="Analyzing the files" description="Reading the apps, chats and histories: this takes a moment for large apps.">
        {uploads && (
          <div className="mb-4">
            <UploadList uploads={uploads} />
          </div>
        )}
        <p role="status" className="flex items-center gap-2 text-sm">
          <Spinner className="h-4 w-4" />
          Analyzing…
        </p>
      </Section>
    );
  }
  if (theImport.status === "failed" && theImport.apps.length === 0) {
    return (
      <Section title="The files could not be analyzed">
        <p role="alert" className="rounded-md border border-danger/40 bg-danger/10 px-3 py-2 text-sm text-danger">
          {theImport.error?.message ?? "The analysis failed."}
        </p>
        <p className="mt-3 text-sm text-muted-foreground">
          Check that you chose the desktop app's sqlite.db while the app was closed, and that each archive is a zip of an app's folder with its
          .git folder, or a git bundle.
        </p>
        <Button className="mt-4" onClick={onStartOver}>
          Choose other files
        </Button>
      </Section>
    );
  }
  if (theImport.status === "analyzed" && theImport.analysis) return <ChooseApps key={theImport.id} theImport={theImport} onStarted={onStarted} />;
  return (
    <div className="space-y-4">
      <ImportProgress theImport={theImport} />
      {!isWorking(theImport.status) && (
        <div className="flex flex-wrap gap-3">
          <Link
            to="/"
            className="inline-flex h-10 items-center justify-center rounded-md border border-border bg-surface px-4 text-sm font-medium hover:bg-muted"
          >
            Back to your projects
          </Link>
          <Button variant="secondary" onClick={onStartOver}>
            Import more
          </Button>
        </div>
      )}
    </div>
  );
}

export function ImportPage() {
  const { organization, isLoading } = useCurrentOrganization();
  const [params, setParams] = useSearchParams();
  const queryClient = useQueryClient();
  const id = params.get("id");
  const [uploads, setUploads] = useState<UploadProgress[] | null>(null);
  const canCreate = organization?.role === "owner" || organization?.role === "admin";

  const startOver = () => {
    setUploads(null);
    setParams({});
  };

  if (isLoading) {
    return (
      <div className="p-6">
        <Skeleton className="h-8 w-48" />
      </div>
    );
  }
  if (!organization || !canCreate) {
    return (
      <Page title="Import from the desktop app">
        <p className="text-sm text-muted-foreground">
          Only an owner or admin of the organization can import apps into it.{" "}
          <Link to="/" className="font-medium text-primary underline underline-offset-2 hover:no-underline">
            Back to your projects
          </Link>
        </p>
      </Page>
    );
  }
  return (
    <Page title="Import from the desktop app">
      <p className="-mt-4 max-w-3xl text-sm text-muted-foreground">
        Bring your apps from the desktop app into {organization.name}: each app becomes a project with its files, its history as versions, and its
        chats. Nothing is changed on your computer.
      </p>
      {id ? (
        <CurrentImport key={id} id={id} uploads={uploads} fromUpload={uploads !== null} onStartOver={startOver} />
      ) : (
        <PickFiles
          organization={organization}
          uploads={uploads}
          onUploads={setUploads}
          onAnalyzing={(analyzing) => {
            queryClient.setQueryData(importKeys.one(analyzing.id), analyzing);
            setParams({ id: analyzing.id });
          }}
        />
      )}
      <ImportHistory organizationId={organization.id} currentId={id} />
    </Page>
  );
}
