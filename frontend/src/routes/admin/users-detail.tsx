// /admin/users/:id: one user for a global administrator: their account, organizations, recent activity, and
// what an administrator may do about them (ban, global role, sign out everywhere, a new confirmation link).
// The API keeps the rules (no banning or demoting oneself or the last admin): its refusal is shown as it says.

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useLocation, useParams } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import type { paths } from "@/api/schema";
import { useAuth } from "@/auth/auth";
import { Button } from "@/components/ui/button";
import { FormError, TextAreaField } from "@/components/ui/field";
import { EmptyState, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { ROLE_LABELS } from "@/lib/organization";
import { GLOBAL_ROLE_LABELS, ROLES, usersKeys, type AdminUserDetail, type GlobalRole } from "./users-data";
import {
  Badge,
  cell,
  ConfirmDialog,
  count,
  headCell,
  link,
  SelectField,
  shortDate,
  tableClass,
  tierLabel,
  When,
} from "./users-shared";

type UserChange = NonNullable<paths["/api/admin/users/{id}"]["patch"]["requestBody"]>["content"]["application/json"];

const ACTIVITY_PAGE = 20;
// The API's limit for a ban's reason.
const MAX_REASON = 1000;

function useUser(id: string) {
  return useQuery({
    queryKey: usersKeys.detail(id),
    queryFn: () => unwrap(api.GET("/api/admin/users/{id}", { params: { path: { id } } })),
    select: (envelope) => envelope.user,
  });
}

/** A PATCH of the user; the detail shows the answer and every list is looked at again. */
function useUpdateUser(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (change: UserChange) => unwrap(api.PATCH("/api/admin/users/{id}", { params: { path: { id } }, body: change })),
    onSuccess: (envelope) => {
      queryClient.setQueryData(usersKeys.detail(id), envelope);
      void queryClient.invalidateQueries({ queryKey: usersKeys.lists });
      void queryClient.invalidateQueries({ queryKey: usersKeys.activity(id) });
    },
  });
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid gap-x-3 gap-y-0.5 py-1.5 sm:grid-cols-[10rem_1fr]">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
    </div>
  );
}

function AccountSection({ user }: { user: AdminUserDetail }) {
  return (
    <Section title="Account">
      <dl className="divide-y divide-border text-sm">
        <Fact label="E-mail">{user.email}</Fact>
        <Fact label="Global role">{GLOBAL_ROLE_LABELS[user.role]}</Fact>
        <Fact label="E-mail address">{user.emailVerified ? "Confirmed" : "Not confirmed yet"}</Fact>
        <Fact label="Status">
          {user.banned ? (
            <span>
              <span className="font-medium text-danger">Banned</span>
              {user.bannedAt && <> since {shortDate(user.bannedAt)}</>}
              {user.banReason && <span className="block text-muted-foreground">Reason: {user.banReason}</span>}
            </span>
          ) : (
            "Active"
          )}
        </Fact>
        <Fact label="Signed up">{shortDate(user.createdAt)}</Fact>
        <Fact label="Last sign-in">
          <When iso={user.lastLoginAt} />
        </Fact>
        <Fact label="Active sessions">{count.format(user.activeSessions)}</Fact>
      </dl>
    </Section>
  );
}

function RoleSection({ user }: { user: AdminUserDetail }) {
  const [role, setRole] = useState<GlobalRole>(user.role);
  const [confirming, setConfirming] = useState(false);
  const update = useUpdateUser(user.id);
  const toast = useToast();
  const name = user.fullName || user.email;
  return (
    <Section title="Global role" description="Co-admins help run the platform; only admins manage users and organizations.">
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          update.reset();
          setConfirming(true);
        }}
      >
        <SelectField
          label="Role"
          className="w-48"
          value={role}
          onChange={(value) => value && setRole(value)}
          options={ROLES.map((value) => ({ value, label: GLOBAL_ROLE_LABELS[value] }))}
        />
        <Button type="submit" variant="secondary" disabled={role === user.role}>
          Change role
        </Button>
      </form>
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        title="Change the global role?"
        description={`${name} becomes ${GLOBAL_ROLE_LABELS[role]}. Their current sign-ins keep working with the new role.`}
        confirmLabel="Change role"
        busy={update.isPending}
        error={update.error}
        onConfirm={() =>
          update.mutate(
            { role },
            {
              onSuccess: () => {
                setConfirming(false);
                toast.success("Role changed", `${name} is now ${GLOBAL_ROLE_LABELS[role]}.`);
              },
            },
          )
        }
      />
    </Section>
  );
}

function BanControl({ user }: { user: AdminUserDetail }) {
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const update = useUpdateUser(user.id);
  const toast = useToast();
  const name = user.fullName || user.email;
  const open = () => {
    update.reset();
    setReason("");
    setConfirming(true);
  };
  const done = (title: string) => () => {
    setConfirming(false);
    toast.success(title);
  };
  return (
    <div className="flex flex-wrap items-center gap-3">
      <Button variant={user.banned ? "secondary" : "danger"} size="sm" onClick={open}>
        {user.banned ? "Unban" : "Ban"}
      </Button>
      <p className="text-sm text-muted-foreground">
        {user.banned ? "Lets them sign in again." : "Signs them out everywhere and stops them signing in."}
      </p>
      {user.banned ? (
        <ConfirmDialog
          open={confirming}
          onOpenChange={setConfirming}
          title={`Unban ${name}?`}
          description="They can sign in again with their password."
          confirmLabel="Unban"
          busy={update.isPending}
          error={update.error}
          onConfirm={() => update.mutate({ banned: false }, { onSuccess: done(`${name} is no longer banned`) })}
        />
      ) : (
        <ConfirmDialog
          open={confirming}
          onOpenChange={setConfirming}
          title={`Ban ${name}?`}
          description="Every sign-in of theirs ends at once, and they cannot sign in until they are unbanned."
          confirmLabel="Ban"
          danger
          busy={update.isPending}
          error={update.error}
          onConfirm={() =>
            update.mutate({ banned: true, banReason: reason.trim() || null }, { onSuccess: done(`${name} is banned`) })
          }
        >
          <TextAreaField
            label="Reason"
            hint="Kept with the ban, for the other administrators."
            maxLength={MAX_REASON}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
        </ConfirmDialog>
      )}
    </div>
  );
}

function SignOutControl({ user }: { user: AdminUserDetail }) {
  const [confirming, setConfirming] = useState(false);
  const [revoked, setRevoked] = useState<number | null>(null);
  const queryClient = useQueryClient();
  const signOut = useMutation({
    mutationFn: () => unwrap(api.POST("/api/admin/users/{id}/logout", { params: { path: { id: user.id } } })),
    onSuccess: (answer) => {
      setConfirming(false);
      setRevoked(answer.sessionsRevoked);
      void queryClient.invalidateQueries({ queryKey: usersKeys.detail(user.id) });
      void queryClient.invalidateQueries({ queryKey: usersKeys.activity(user.id) });
    },
  });
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-3">
        <Button
          variant="secondary"
          size="sm"
          onClick={() => {
            signOut.reset();
            setConfirming(true);
          }}
        >
          Sign out everywhere
        </Button>
        <p className="text-sm text-muted-foreground">Ends every sign-in; they can sign in again.</p>
      </div>
      <p role="status" className="text-sm">
        {revoked !== null && (revoked === 1 ? "1 session was ended." : `${count.format(revoked)} sessions were ended.`)}
      </p>
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        title="Sign out everywhere?"
        description={`Every sign-in of ${user.fullName || user.email} ends at once (${count.format(user.activeSessions)} active).`}
        confirmLabel="Sign out everywhere"
        busy={signOut.isPending}
        error={signOut.error}
        onConfirm={() => signOut.mutate()}
      />
    </div>
  );
}

function VerificationControl({ user }: { user: AdminUserDetail }) {
  const toast = useToast();
  const resend = useMutation({
    mutationFn: () => unwrap(api.POST("/api/admin/users/{id}/resend-verification", { params: { path: { id: user.id } } })),
    onSuccess: (answer) => toast.success("Confirmation link sent", answer.message),
  });
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-3">
        <Button variant="secondary" size="sm" busy={resend.isPending} onClick={() => resend.mutate()}>
          Resend confirmation e-mail
        </Button>
        <p className="text-sm text-muted-foreground">Their e-mail address is not confirmed yet.</p>
      </div>
      <FormError message={resend.error ? errorText(resend.error) : null} />
    </div>
  );
}

function AccessSection({ user }: { user: AdminUserDetail }) {
  return (
    <Section title="Access">
      <div className="space-y-4">
        <BanControl user={user} />
        <SignOutControl user={user} />
        {!user.emailVerified && <VerificationControl user={user} />}
      </div>
    </Section>
  );
}

function MembershipsSection({ user }: { user: AdminUserDetail }) {
  return (
    <Section title="Memberships" description="The organizations this user belongs to.">
      {user.memberships.length === 0 ? (
        <EmptyState>Not a member of any organization.</EmptyState>
      ) : (
        <div className="overflow-x-auto">
          <table className={tableClass}>
            <caption className="sr-only">Memberships</caption>
            <thead className="text-muted-foreground">
              <tr>
                <th scope="col" className={headCell}>Organization</th>
                <th scope="col" className={headCell}>Tier</th>
                <th scope="col" className={headCell}>Role</th>
                <th scope="col" className={headCell}>Joined</th>
              </tr>
            </thead>
            <tbody>
              {user.memberships.map((membership) => (
                <tr key={membership.organizationId} className="border-t border-border">
                  <td className={cell}>
                    <Link to={`/admin/organizations/${membership.organizationId}`} className={link}>
                      {membership.name}
                    </Link>
                  </td>
                  <td className={cell}>{tierLabel(membership.tier)}</td>
                  <td className={cell}>{ROLE_LABELS[membership.role] ?? membership.role}</td>
                  <td className={`${cell} whitespace-nowrap`}>{shortDate(membership.joinedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

function ActivitySection({ userId }: { userId: string }) {
  const activity = useInfiniteQuery({
    queryKey: usersKeys.activity(userId),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/admin/users/{id}/activity", {
          params: { path: { id: userId }, query: { limit: ACTIVITY_PAGE, cursor: pageParam ?? undefined } },
        }),
      ),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
  const items = activity.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Section title="Recent activity" description="What this user did, newest first.">
      {activity.isLoading ? (
        <Skeleton className="h-24 w-full" />
      ) : activity.error ? (
        <FormError message={errorText(activity.error)} />
      ) : items.length === 0 ? (
        <EmptyState>No activity recorded.</EmptyState>
      ) : (
        <ol className="divide-y divide-border text-sm">
          {items.map((entry) => (
            <li key={entry.id} className="flex flex-wrap items-baseline gap-x-3 gap-y-1 py-2">
              <code className="font-mono text-xs">{entry.action}</code>
              {entry.resourceType && <span className="text-muted-foreground">{entry.resourceType}</span>}
              <span className="ml-auto whitespace-nowrap text-muted-foreground">
                <When iso={entry.createdAt} />
                {entry.ipAddress && <> · {entry.ipAddress}</>}
              </span>
            </li>
          ))}
        </ol>
      )}
      {activity.hasNextPage && (
        <Button variant="secondary" size="sm" className="mt-3" onClick={() => void activity.fetchNextPage()} busy={activity.isFetchingNextPage}>
          Load more
        </Button>
      )}
    </Section>
  );
}

export function UserDetail() {
  const { id = "" } = useParams();
  const { state } = useLocation();
  const { user: me } = useAuth();
  const user = useUser(id);
  // Back to the list as it was searched, when the person came from it.
  const from = typeof (state as { from?: unknown } | null)?.from === "string" ? (state as { from: string }).from : "";
  return (
    <div className="mt-6 space-y-6">
      <Link to={`/admin/users${from}`} className="text-sm text-muted-foreground hover:text-foreground">
        ← All users
      </Link>
      {user.error ? (
        <>
          <h1 className="text-2xl font-semibold">User</h1>
          <FormError message={errorText(user.error)} />
        </>
      ) : !user.data ? (
        <div className="space-y-4">
          <Skeleton className="h-8 w-64" />
          <Skeleton className="h-48 w-full" />
          <Skeleton className="h-32 w-full" />
        </div>
      ) : (
        <>
          <div className="flex flex-wrap items-center gap-3">
            <h1 className="text-2xl font-semibold">{user.data.fullName || user.data.email}</h1>
            <Badge>{GLOBAL_ROLE_LABELS[user.data.role]}</Badge>
            {user.data.banned && <Badge tone="danger">Banned</Badge>}
            {!user.data.emailVerified && <Badge tone="warning">Unverified</Badge>}
            {me?.id === user.data.id && <Badge>You</Badge>}
          </div>
          <AccountSection user={user.data} />
          {/* Keyed by the role: after a change (or a reload) the select starts from the saved one. */}
          <RoleSection key={user.data.role} user={user.data} />
          <AccessSection user={user.data} />
          <MembershipsSection user={user.data} />
          <ActivitySection userId={user.data.id} />
        </>
      )}
    </div>
  );
}
