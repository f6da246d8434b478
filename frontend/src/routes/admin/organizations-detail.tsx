// /admin/organizations/:id: one organization for a global administrator: owner, subscription, limits and usage,
// and the changes made by hand (the tier of an Enterprise deal, a longer trial, a suspension), each confirmed.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type ReactNode } from "react";
import { Link, useLocation, useParams } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import type { paths } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { FormError, TextAreaField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { organizationsKeys, statusLabel, TIERS, type AdminOrganization, type AdminOrganizationDetail, type Tier } from "./organizations-data";
import { Badge, cell, ConfirmDialog, count, headCell, link, SelectField, shortDate, tableClass, TIER_LABELS, When } from "./users-shared";

type OrganizationChange = NonNullable<
  paths["/api/admin/organizations/{id}"]["patch"]["requestBody"]
>["content"]["application/json"];

// The API's limit for a suspension's reason.
const MAX_REASON = 1000;

const RESOURCE_LABELS: Record<string, string> = {
  projects: "Projects",
  members: "Members",
  deployments: "Deployments",
  ai_tokens: "AI tokens this month",
  custom_domains: "Custom domains",
};

export function OrganizationStatus({ organization }: { organization: AdminOrganization }) {
  if (organization.suspended) return <Badge tone="danger">Suspended</Badge>;
  const status = organization.subscriptionStatus;
  const tone = status === "active" ? "success" : status === "trialing" ? "neutral" : "warning";
  return <Badge tone={tone}>{statusLabel(status)}</Badge>;
}

function useOrganization(id: string) {
  return useQuery({
    queryKey: organizationsKeys.detail(id),
    queryFn: () => unwrap(api.GET("/api/admin/organizations/{id}", { params: { path: { id } } })),
    select: (envelope) => envelope.organization,
  });
}

/** A PATCH of the organization; the detail shows the answer and every list is looked at again. */
function useUpdateOrganization(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (change: OrganizationChange) =>
      unwrap(api.PATCH("/api/admin/organizations/{id}", { params: { path: { id } }, body: change })),
    onSuccess: (envelope) => {
      queryClient.setQueryData(organizationsKeys.detail(id), envelope);
      void queryClient.invalidateQueries({ queryKey: organizationsKeys.lists });
    },
  });
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid gap-x-3 gap-y-0.5 py-1.5 sm:grid-cols-[11rem_1fr]">
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
    </div>
  );
}

function OverviewSection({ organization }: { organization: AdminOrganizationDetail }) {
  const { owner } = organization;
  return (
    <Section title="Overview">
      <dl className="divide-y divide-border text-sm">
        <Fact label="Slug">{organization.slug}</Fact>
        <Fact label="Owner">
          <Link to={`/admin/users/${owner.id}`} className={link}>
            {owner.fullName || owner.email}
          </Link>
          {owner.fullName && <span className="text-muted-foreground"> ({owner.email})</span>}
        </Fact>
        <Fact label="Created">{shortDate(organization.createdAt)}</Fact>
        <Fact label="Members">{count.format(organization.membersCount)}</Fact>
        <Fact label="Projects">{count.format(organization.projectsCount)}</Fact>
        <Fact label="Deployed projects">{count.format(organization.deployedProjectsCount)}</Fact>
        <Fact label="AI tokens this month">{count.format(organization.aiTokensThisMonth)}</Fact>
      </dl>
    </Section>
  );
}

function SubscriptionSection({ organization }: { organization: AdminOrganizationDetail }) {
  return (
    <Section title="Subscription">
      <dl className="divide-y divide-border text-sm">
        <Fact label="Tier">{TIER_LABELS[organization.tier]}</Fact>
        <Fact label="Status">{statusLabel(organization.subscriptionStatus)}</Fact>
        <Fact label="Billed">{organization.subscriptionInterval === "year" ? "Yearly" : organization.subscriptionInterval === "month" ? "Monthly" : "Not billed"}</Fact>
        {organization.currentPeriodEnd && (
          <Fact label={organization.cancelAtPeriodEnd ? "Ends on" : "Renews on"}>{shortDate(organization.currentPeriodEnd)}</Fact>
        )}
        {organization.trialEndsAt && <Fact label="Trial ends">{shortDate(organization.trialEndsAt)}</Fact>}
        {organization.pastDueSince && (
          <Fact label="Past due since">
            <When iso={organization.pastDueSince} />
          </Fact>
        )}
        <Fact label="Stripe customer">{organization.stripeCustomerId ?? <span className="text-muted-foreground">None</span>}</Fact>
        <Fact label="Stripe subscription">{organization.stripeSubscriptionId ?? <span className="text-muted-foreground">None</span>}</Fact>
      </dl>
    </Section>
  );
}

function limitText(limit: number | boolean | null | undefined): string {
  if (limit === null || limit === undefined) return "Unlimited";
  if (typeof limit === "boolean") return limit ? "Included" : "Not included";
  return count.format(limit);
}

function UsageSection({ organization }: { organization: AdminOrganizationDetail }) {
  const { plan } = organization;
  const resources = Object.keys(plan.usage);
  return (
    <Section title="Limits and usage" description={`The ${TIER_LABELS[plan.tier]} plan's limits apply now.`}>
      <div className="overflow-x-auto">
        <table className={tableClass}>
          <caption className="sr-only">Limits and usage</caption>
          <thead className="text-muted-foreground">
            <tr>
              <th scope="col" className={headCell}>Resource</th>
              <th scope="col" className={`${headCell} text-right`}>Used</th>
              <th scope="col" className={`${headCell} text-right`}>Limit</th>
            </tr>
          </thead>
          <tbody>
            {resources.map((resource) => (
              <tr key={resource} className="border-t border-border">
                <td className={cell}>{RESOURCE_LABELS[resource] ?? resource}</td>
                <td className={`${cell} text-right tabular-nums`}>{count.format(plan.usage[resource] ?? 0)}</td>
                <td className={`${cell} text-right tabular-nums`}>{limitText(plan.limits[resource])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

function TierSection({ organization }: { organization: AdminOrganizationDetail }) {
  const [tier, setTier] = useState<Tier>(organization.tier);
  const [confirming, setConfirming] = useState(false);
  const update = useUpdateOrganization(organization.id);
  const toast = useToast();
  return (
    <Section title="Tier" description="Set by the subscription, or here by hand (an Enterprise deal, say).">
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          update.reset();
          setConfirming(true);
        }}
      >
        <SelectField
          label="Tier"
          className="w-48"
          value={tier}
          onChange={(value) => value && setTier(value)}
          options={TIERS.map((value) => ({ value, label: TIER_LABELS[value] }))}
        />
        <Button type="submit" variant="secondary" disabled={tier === organization.tier}>
          Set tier
        </Button>
      </form>
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        title={`Set ${organization.name} to ${TIER_LABELS[tier]}?`}
        description={`Its limits become the ${TIER_LABELS[tier]} plan's at once. A later change of its subscription sets the tier again.`}
        confirmLabel="Set tier"
        busy={update.isPending}
        error={update.error}
        onConfirm={() =>
          update.mutate(
            { tier },
            {
              onSuccess: () => {
                setConfirming(false);
                toast.success("Tier changed", `${organization.name} is now on ${TIER_LABELS[tier]}.`);
              },
            },
          )
        }
      />
    </Section>
  );
}

/** A date input's value (local calendar day), `days` from today. */
function dayFromNow(days: number): string {
  const day = new Date();
  day.setDate(day.getDate() + days);
  return `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
}

function TrialSection({ organization }: { organization: AdminOrganizationDetail }) {
  const [day, setDay] = useState("");
  const [confirming, setConfirming] = useState(false);
  const update = useUpdateOrganization(organization.id);
  const toast = useToast();
  const inputId = useId();
  const current = organization.trialEndsAt;
  return (
    <Section
      title="Trial"
      description={current ? `The trial ends ${new Date(current) > new Date() ? "on" : "ended on"} ${shortDate(current)}.` : "No trial."}
    >
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          update.reset();
          setConfirming(true);
        }}
      >
        <div className="space-y-1.5">
          <label htmlFor={inputId} className="block text-sm font-medium">
            Trial ends on
          </label>
          <input
            id={inputId}
            type="date"
            required
            min={dayFromNow(1)}
            value={day}
            onChange={(e) => setDay(e.target.value)}
            className="h-10 rounded-md border border-border bg-surface px-3 text-sm"
          />
        </div>
        <Button type="submit" variant="secondary" disabled={!day}>
          Extend trial
        </Button>
      </form>
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        title="Extend the trial?"
        description={day ? `${organization.name}'s trial ends at the end of ${shortDate(`${day}T12:00:00Z`)} (UTC).` : ""}
        confirmLabel="Extend trial"
        busy={update.isPending}
        error={update.error}
        onConfirm={() =>
          update.mutate(
            // The end of the chosen day, UTC: the trial lasts the whole of it.
            { trialEndsAt: `${day}T23:59:59Z` },
            {
              onSuccess: () => {
                setConfirming(false);
                setDay("");
                toast.success("Trial extended");
              },
            },
          )
        }
      />
    </Section>
  );
}

function SuspensionSection({ organization }: { organization: AdminOrganizationDetail }) {
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const update = useUpdateOrganization(organization.id);
  const toast = useToast();
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
    <Section
      title="Suspension"
      description="A suspended organization's members can still see their work, but cannot change anything or deploy."
    >
      {organization.suspended ? (
        <div className="space-y-3 text-sm">
          <p>
            <span className="font-medium text-danger">Suspended</span>
            {organization.suspendedAt && <> since {shortDate(organization.suspendedAt)}</>}
            {organization.suspensionReason && <span className="block text-muted-foreground">Reason: {organization.suspensionReason}</span>}
          </p>
          <Button variant="secondary" size="sm" onClick={open}>
            Lift the suspension
          </Button>
          <ConfirmDialog
            open={confirming}
            onOpenChange={setConfirming}
            title={`Lift ${organization.name}'s suspension?`}
            description="Its members can work and deploy again."
            confirmLabel="Lift the suspension"
            busy={update.isPending}
            error={update.error}
            onConfirm={() => update.mutate({ suspended: false }, { onSuccess: done("Suspension lifted") })}
          />
        </div>
      ) : (
        <div className="flex flex-wrap items-center gap-3">
          <Button variant="danger" size="sm" onClick={open}>
            Suspend
          </Button>
          <p className="text-sm text-muted-foreground">Not suspended.</p>
          <ConfirmDialog
            open={confirming}
            onOpenChange={setConfirming}
            title={`Suspend ${organization.name}?`}
            description="Its members cannot change anything or deploy until the suspension is lifted."
            confirmLabel="Suspend"
            danger
            busy={update.isPending}
            error={update.error}
            onConfirm={() =>
              update.mutate({ suspended: true, suspensionReason: reason.trim() || null }, { onSuccess: done("Organization suspended") })
            }
          >
            <TextAreaField
              label="Reason"
              hint="Kept with the suspension, for the other administrators."
              maxLength={MAX_REASON}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          </ConfirmDialog>
        </div>
      )}
    </Section>
  );
}

export function OrganizationDetail() {
  const { id = "" } = useParams();
  const { state } = useLocation();
  const organization = useOrganization(id);
  // Back to the list as it was searched, when the person came from it.
  const from = typeof (state as { from?: unknown } | null)?.from === "string" ? (state as { from: string }).from : "";
  return (
    <div className="mt-6 space-y-6">
      <Link to={`/admin/organizations${from}`} className="text-sm text-muted-foreground hover:text-foreground">
        ← All organizations
      </Link>
      {organization.error ? (
        <>
          <h1 className="text-2xl font-semibold">Organization</h1>
          <FormError message={errorText(organization.error)} />
        </>
      ) : !organization.data ? (
        <div className="space-y-4">
          <Skeleton className="h-8 w-64" />
          <Skeleton className="h-48 w-full" />
          <Skeleton className="h-32 w-full" />
        </div>
      ) : (
        <>
          <div className="flex flex-wrap items-center gap-3">
            <h1 className="text-2xl font-semibold">{organization.data.name}</h1>
            <Badge>{TIER_LABELS[organization.data.tier]}</Badge>
            <OrganizationStatus organization={organization.data} />
          </div>
          <OverviewSection organization={organization.data} />
          <SubscriptionSection organization={organization.data} />
          <UsageSection organization={organization.data} />
          {/* Keyed by the tier: after a change the select starts from the saved one. */}
          <TierSection key={organization.data.tier} organization={organization.data} />
          <TrialSection organization={organization.data} />
          <SuspensionSection organization={organization.data} />
        </>
      )}
    </div>
  );
}
