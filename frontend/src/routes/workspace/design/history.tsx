import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { useAuth } from "@/auth/auth";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError } from "@/components/ui/field";
import { EmptyState, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { dateTime, relativeTime } from "@/lib/time";
import { useRevisions, type DesignSystemChange, type DesignSystemRevision } from "./data";

const CHANGE_LABELS: Record<DesignSystemRevision["change"], string> = { generated: "Generated", edited: "Edited", restored: "Restored" };

function RestoreDialog({
  projectId,
  target,
  onClose,
  onRestored,
}: {
  projectId: string;
  target: DesignSystemRevision | null;
  onClose: () => void;
  onRestored: (change: DesignSystemChange) => void;
}) {
  const restore = useMutation({
    mutationFn: (revisionId: string) =>
      unwrap(api.POST("/api/projects/{id}/design-system/revisions/{revisionId}/restore", { params: { path: { id: projectId, revisionId } } })),
    onSuccess: (change) => {
      onRestored(change);
      onClose();
    },
  });
  const close = () => {
    restore.reset();
    onClose();
  };
  return (
    <Dialog
      open={target !== null}
      onOpenChange={(open) => !open && close()}
      title={`Restore revision ${target?.revision ?? ""}?`}
      description={
        target &&
        `The design system${target.pageName ? ` of the ${target.pageName} page` : ""} as it was on ${dateTime(target.createdAt)} comes back as a new revision, and its files are saved as a new version. The revisions after it stay in the history.`
      }
    >
      <FormError message={restore.error ? errorText(restore.error) : null} />
      <div className="mt-3 flex justify-end gap-2">
        <Button variant="secondary" onClick={close}>
          Cancel
        </Button>
        <Button busy={restore.isPending} onClick={() => target && restore.mutate(target.id)}>
          Restore
        </Button>
      </div>
    </Dialog>
  );
}

/** Every revision of the shown design system (the master's or the page's), newest first, each restorable. */
export function History({
  projectId,
  page,
  canEdit,
  notice,
  onRestored,
}: {
  projectId: string;
  page: string | null;
  canEdit: boolean;
  notice: ReactNode;
  onRestored: (change: DesignSystemChange) => void;
}) {
  const revisions = useRevisions(projectId, page);
  const { user } = useAuth();
  const [target, setTarget] = useState<DesignSystemRevision | null>(null);
  const items = revisions.data?.items ?? [];
  const who = (revision: DesignSystemRevision) =>
    revision.createdBy === null ? null : revision.createdBy === user?.id ? "you" : (revision.createdByName ?? "a former member");
  return (
    <Section title="History" description={page ? `Revisions of the ${page} page's override.` : "Revisions of the design system."}>
      {notice && <div className="mb-3">{notice}</div>}
      {revisions.isLoading && <Skeleton className="h-20 w-full" />}
      {revisions.error && <FormError message={errorText(revisions.error)} />}
      {revisions.data && items.length === 0 && <EmptyState>No revisions yet.</EmptyState>}
      {items.length > 0 && (
        <ul aria-label="Revisions" className="-mx-2 divide-y divide-border">
          {items.map((revision, index) => (
            <li key={revision.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-2 py-1.5 text-sm">
              <span className="w-8 font-mono text-muted-foreground">r{revision.revision}</span>
              <span className="font-medium">{CHANGE_LABELS[revision.change]}</span>
              {revision.restoredFromId && (
                <span className="text-xs text-muted-foreground">
                  from r{items.find((other) => other.id === revision.restoredFromId)?.revision ?? "?"}
                </span>
              )}
              {index === 0 && <span className="rounded-full bg-primary/10 px-2 py-0.5 text-xs text-primary">current</span>}
              <span className="ml-auto text-xs text-muted-foreground">
                <span title={dateTime(revision.createdAt)}>{relativeTime(revision.createdAt)}</span>
                {who(revision) && ` · by ${who(revision)}`}
              </span>
              {canEdit && index > 0 && (
                <Button variant="secondary" size="sm" className="h-7" onClick={() => setTarget(revision)}>
                  Restore<span className="sr-only"> revision {revision.revision}</span>
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
      <RestoreDialog projectId={projectId} target={target} onClose={() => setTarget(null)} onRestored={onRestored} />
    </Section>
  );
}
