import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { useAuth } from "@/auth/auth";
import { ErrorNotice } from "@/components/plan-limit";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError, TextField } from "@/components/ui/field";
import { EmptyState, Page, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { ROLE_LABELS, useCurrentOrganization, type Organization } from "@/lib/organization";
import { dateTime, relativeTime } from "@/lib/time";

type Member = components["schemas"]["OrganizationMember"];
type Role = "owner" | "admin" | "member" | "viewer";
type Permission = "view" | "edit" | "deploy" | "manage" | "invite";
const ROLES: Role[] = ["owner", "admin", "member", "viewer"];
const PERMISSIONS: { id: Permission; label: string }[] = [
  { id: "view", label: "View" },
  { id: "edit", label: "Edit code and chat" },
  { id: "deploy", label: "Deploy" },
  { id: "manage", label: "Manage projects" },
  { id: "invite", label: "Invite members" },
];

function RenameOrganization({ organization }: { organization: Organization }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState(organization.name);
  const [slug, setSlug] = useState(organization.slug);
  const save = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/organizations/{id}", { params: { path: { id: organization.id } }, body: { name, slug } })),
    onSuccess: () => {
      toast.success("Organization saved");
      void queryClient.invalidateQueries({ queryKey: ["organizations"] });
    },
  });
  return (
    <form
      className="grid gap-4 sm:grid-cols-[1fr_1fr_auto] sm:items-end"
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} />
      <TextField label="Slug" value={slug} onChange={(e) => setSlug(e.target.value)} />
      <Button type="submit" busy={save.isPending}>
        Save
      </Button>
      <FormError message={save.error ? errorText(save.error) : null} />
    </form>
  );
}

function InviteDialog({ organization, open, onOpenChange }: { organization: Organization; open: boolean; onOpenChange: (open: boolean) => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [permissions, setPermissions] = useState<Permission[]>(["view", "edit"]);
  const invite = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/organizations/{id}/members", {
          params: { path: { id: organization.id } },
          body: { email, role: role as "admin" | "member" | "viewer", permissions },
        }),
      ),
    onSuccess: () => {
      toast.success("Invitation sent", `${email} will get an e-mail with a link valid for 7 days.`);
      setEmail("");
      onOpenChange(false);
      void queryClient.invalidateQueries({ queryKey: ["invitations", organization.id] });
    },
  });
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="Invite someone" description={`They join ${organization.name} when they accept.`}>
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          invite.mutate();
        }}
      >
        <ErrorNotice error={invite.error} organizationId={organization.id} fallback="That did not work. Try again." />
        <TextField label="E-mail" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <div className="space-y-1.5">
          <label htmlFor="invite-role" className="block text-sm font-medium">
            Role
          </label>
          <select
            id="invite-role"
            value={role}
            onChange={(e) => setRole(e.target.value as Role)}
            className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm"
          >
            {(["admin", "member", "viewer"] as Role[]).map((r) => (
              <option key={r} value={r}>
                {ROLE_LABELS[r]}
              </option>
            ))}
          </select>
        </div>
        {role === "member" && (
          <fieldset className="space-y-2">
            <legend className="text-sm font-medium">Permissions</legend>
            {PERMISSIONS.map((permission) => (
              <label key={permission.id} className="flex items-center gap-2 text-sm">
                <input
                  type="checkbox"
                  className="h-4 w-4 accent-primary"
                  checked={permissions.includes(permission.id)}
                  onChange={(e) =>
                    setPermissions((current) => (e.target.checked ? [...current, permission.id] : current.filter((p) => p !== permission.id)))
                  }
                />
                {permission.label}
              </label>
            ))}
          </fieldset>
        )}
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" busy={invite.isPending}>
            Send invitation
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function MemberRow({ organization, member, canManage }: { organization: Organization; member: Member; canManage: boolean }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const { user } = useAuth();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["members", organization.id] });
  const update = useMutation({
    mutationFn: (body: { role?: Role; permissions?: Permission[] }) =>
      unwrap(api.PATCH("/api/organizations/{id}/members/{memberId}", { params: { path: { id: organization.id, memberId: member.id } }, body })),
    onSuccess: () => void refresh(),
    onError: (error) => toast.error(errorText(error)),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/organizations/{id}/members/{memberId}", { params: { path: { id: organization.id, memberId: member.id } } })),
    onSuccess: () => {
      toast.success("Member removed");
      void refresh();
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const held = member.permissions as Permission[];
  return (
    <li className="flex flex-wrap items-center gap-3 py-3">
      <div className="mr-auto min-w-0">
        <p className="truncate font-medium">
          {member.fullName || member.email}
          {member.userId === user?.id && <span className="ml-2 text-xs text-muted-foreground">(you)</span>}
        </p>
        <p className="truncate text-sm text-muted-foreground">
          {member.email} · joined {relativeTime(member.joinedAt)}
        </p>
        {member.role === "member" && (
          <p className="text-xs text-muted-foreground">Can: {held.map((p) => PERMISSIONS.find((x) => x.id === p)?.label ?? p).join(", ")}</p>
        )}
      </div>
      {canManage ? (
        <>
          <label className="sr-only" htmlFor={`role-${member.id}`}>
            Role of {member.email}
          </label>
          <select
            id={`role-${member.id}`}
            value={member.role}
            disabled={update.isPending}
            onChange={(e) => update.mutate({ role: e.target.value as Role })}
            className="h-9 rounded-md border border-border bg-surface px-2 text-sm"
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABELS[r]}
              </option>
            ))}
          </select>
          {member.role === "member" && (
            <details className="relative">
              <summary className="cursor-pointer rounded-md px-2 py-1.5 text-sm hover:bg-muted">Permissions</summary>
              <div className="absolute right-0 z-10 mt-1 w-56 space-y-2 rounded-md border border-border bg-surface-raised p-3 shadow-lg">
                {PERMISSIONS.map((permission) => (
                  <label key={permission.id} className="flex items-center gap-2 text-sm">
                    <input
                      type="checkbox"
                      className="h-4 w-4 accent-primary"
                      checked={held.includes(permission.id)}
                      onChange={(e) =>
                        update.mutate({ permissions: e.target.checked ? [...held, permission.id] : held.filter((p) => p !== permission.id) })
                      }
                    />
                    {permission.label}
                  </label>
                ))}
              </div>
            </details>
          )}
          <Button variant="ghost" size="sm" onClick={() => remove.mutate()} busy={remove.isPending} aria-label={`Remove ${member.email}`}>
            Remove
          </Button>
        </>
      ) : (
        <span className="rounded-full bg-muted px-2 py-0.5 text-xs">{ROLE_LABELS[member.role]}</span>
      )}
    </li>
  );
}

function useMembers(organization: Organization) {
  return useInfiniteQuery({
    queryKey: ["members", organization.id],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET("/api/organizations/{id}/members", { params: { path: { id: organization.id }, query: { limit: 100, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
}

function Members({ organization, canManage, canInvite }: { organization: Organization; canManage: boolean; canInvite: boolean }) {
  const [inviting, setInviting] = useState(false);
  const members = useMembers(organization);
  const items = members.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Section
      title="Members"
      description="Owners and admins manage everything; members have the permissions given to them; viewers only look."
      actions={canInvite && <Button onClick={() => setInviting(true)}>Invite</Button>}
    >
      {members.isLoading ? (
        <Skeleton className="h-24 w-full" />
      ) : members.error ? (
        <FormError message={errorText(members.error)} />
      ) : (
        <ul className="divide-y divide-border">
          {items.map((member) => (
            <MemberRow key={member.id} organization={organization} member={member} canManage={canManage} />
          ))}
        </ul>
      )}
      {members.hasNextPage && (
        <Button variant="secondary" size="sm" onClick={() => void members.fetchNextPage()} busy={members.isFetchingNextPage}>
          Show more
        </Button>
      )}
      <InviteDialog organization={organization} open={inviting} onOpenChange={setInviting} />
    </Section>
  );
}

function Invitations({ organization }: { organization: Organization }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const invitations = useQuery({
    queryKey: ["invitations", organization.id],
    queryFn: () => unwrap(api.GET("/api/organizations/{id}/invitations", { params: { path: { id: organization.id }, query: { limit: 100 } } })),
  });
  const revoke = useMutation({
    mutationFn: (invitationId: string) =>
      unwrap(api.DELETE("/api/organizations/{id}/invitations/{invitationId}", { params: { path: { id: organization.id, invitationId } } })),
    onSuccess: () => {
      toast.success("Invitation withdrawn");
      void queryClient.invalidateQueries({ queryKey: ["invitations", organization.id] });
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const items = invitations.data?.items ?? [];
  return (
    <Section title="Pending invitations">
      {invitations.isLoading ? (
        <Skeleton className="h-12 w-full" />
      ) : items.length === 0 ? (
        <EmptyState>No pending invitations. Invite someone from the members list.</EmptyState>
      ) : (
        <ul className="divide-y divide-border">
          {items.map((invitation) => (
            <li key={invitation.id} className="flex flex-wrap items-center gap-3 py-3">
              <div className="mr-auto">
                <p className="font-medium">{invitation.email}</p>
                <p className="text-sm text-muted-foreground">
                  {ROLE_LABELS[invitation.role]} · expires {relativeTime(invitation.expiresAt)}
                </p>
              </div>
              <Button variant="ghost" size="sm" onClick={() => revoke.mutate(invitation.id)} aria-label={`Withdraw the invitation of ${invitation.email}`}>
                Withdraw
              </Button>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function AuditLog({ organization }: { organization: Organization }) {
  const [action, setAction] = useState("");
  const [since, setSince] = useState("");
  const log = useInfiniteQuery({
    queryKey: ["audit", organization.id, action, since],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/organizations/{id}/audit-logs", {
          params: {
            path: { id: organization.id },
            query: {
              limit: 50,
              ...(action ? { action } : {}),
              ...(since ? { since: new Date(since).toISOString() } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
        }),
      ),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
  const items = log.data?.pages.flatMap((p) => p.items) ?? [];
  const members = useMembers(organization);
  const names = new Map((members.data?.pages.flatMap((p) => p.items) ?? []).map((m) => [m.userId, m.fullName || m.email]));
  return (
    <Section title="Audit log" description="Who did what in this organization, newest first.">
      <div className="mb-4 grid gap-3 sm:grid-cols-2">
        <TextField label="Action (exact, e.g. member.invite)" value={action} onChange={(e) => setAction(e.target.value.trim())} />
        <TextField label="Since" type="date" value={since} onChange={(e) => setSince(e.target.value)} />
      </div>
      {log.isLoading ? (
        <Skeleton className="h-24 w-full" />
      ) : items.length === 0 ? (
        <EmptyState>Nothing recorded{action || since ? " for these filters" : " yet"}.</EmptyState>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm">
            <thead className="text-muted-foreground">
              <tr>
                <th className="py-2 pr-4 font-medium">When</th>
                <th className="py-2 pr-4 font-medium">Who</th>
                <th className="py-2 pr-4 font-medium">Action</th>
                <th className="py-2 pr-4 font-medium">Resource</th>
                <th className="py-2 font-medium">From</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {items.map((entry) => (
                <tr key={entry.id}>
                  <td className="py-2 pr-4 whitespace-nowrap">{dateTime(entry.createdAt)}</td>
                  <td className="py-2 pr-4">{entry.userId ? (names.get(entry.userId) ?? "A former member") : "The platform"}</td>
                  <td className="py-2 pr-4 font-mono text-xs">{entry.action}</td>
                  <td className="py-2 pr-4">{entry.resourceType ?? "—"}</td>
                  <td className="py-2">{entry.ipAddress ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {log.hasNextPage && (
        <Button className="mt-3" variant="secondary" size="sm" onClick={() => void log.fetchNextPage()} busy={log.isFetchingNextPage}>
          Show more
        </Button>
      )}
    </Section>
  );
}

function DeleteOrganization({ organization }: { organization: Organization }) {
  const [open, setOpen] = useState(false);
  const [confirm, setConfirm] = useState("");
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/organizations/{id}", { params: { path: { id: organization.id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["organizations"] });
      navigate("/");
    },
  });
  return (
    <Section title="Delete organization" description="Deletes every project, chat and version in it. This cannot be undone.">
      <Button variant="danger" onClick={() => setOpen(true)}>
        Delete {organization.name}
      </Button>
      <Dialog open={open} onOpenChange={setOpen} title={`Delete ${organization.name}?`} description="Type the organization's slug to confirm.">
        <div className="space-y-4">
          <FormError message={remove.error ? errorText(remove.error) : null} />
          <TextField label={`Slug (${organization.slug})`} value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button variant="danger" disabled={confirm !== organization.slug} busy={remove.isPending} onClick={() => remove.mutate()}>
              Delete forever
            </Button>
          </div>
        </div>
      </Dialog>
    </Section>
  );
}

function LeaveOrganization({ organization }: { organization: Organization }) {
  const [open, setOpen] = useState(false);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const toast = useToast();
  const leave = useMutation({
    mutationFn: () => unwrap(api.POST("/api/organizations/{id}/leave", { params: { path: { id: organization.id } } })),
    onSuccess: () => {
      toast.success(`You left ${organization.name}`);
      setOpen(false);
      void queryClient.invalidateQueries({ queryKey: ["organizations"] });
      navigate("/");
    },
  });
  return (
    <Section
      title="Leave organization"
      description={
        organization.role === "owner"
          ? "An organization keeps at least one owner: make someone else an owner before you leave."
          : "You lose access to its projects until someone invites you again."
      }
    >
      <Button variant="secondary" onClick={() => setOpen(true)}>
        Leave {organization.name}
      </Button>
      <Dialog open={open} onOpenChange={setOpen} title={`Leave ${organization.name}?`} description="Your chats and versions stay with the organization.">
        <div className="space-y-4">
          <FormError message={leave.error ? errorText(leave.error) : null} />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Stay
            </Button>
            <Button variant="danger" busy={leave.isPending} onClick={() => leave.mutate()}>
              Leave
            </Button>
          </div>
        </div>
      </Dialog>
    </Section>
  );
}

export function OrganizationPage() {
  const { organization, isLoading } = useCurrentOrganization();
  if (isLoading) return <div className="p-6"><Skeleton className="h-40 w-full" /></div>;
  if (!organization) return <div className="p-6 text-sm text-muted-foreground">You do not belong to an organization yet.</div>;
  // What the screen offers mirrors the API's permission table; the API decides in the end.
  const role = organization.role;
  const isOwner = role === "owner";
  const manages = isOwner || role === "admin";
  return (
    <Page
      title={organization.name}
      actions={
        <Link to="/organization/billing" className="inline-flex h-10 items-center rounded-md border border-border bg-surface px-4 text-sm font-medium hover:bg-muted">
          Billing
        </Link>
      }
    >
      {manages && (
        <Section title="Settings">
          <RenameOrganization organization={organization} />
        </Section>
      )}
      <Members organization={organization} canManage={manages} canInvite={manages} />
      {manages && <Invitations organization={organization} />}
      {isOwner && <AuditLog organization={organization} />}
      <LeaveOrganization organization={organization} />
      {isOwner && <DeleteOrganization organization={organization} />}
    </Page>
  );
}
