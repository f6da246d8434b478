import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { EmptyState, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { longDate, money, useInvoices, type Invoice } from "./data";

const STATUS: Record<Invoice["status"], [string, string]> = {
  paid: ["Paid", "text-success"],
  open: ["Due", "text-warning"],
  draft: ["Draft", "text-muted-foreground"],
  void: ["Void", "text-muted-foreground"],
  uncollectible: ["Unpaid", "text-danger"],
};

const link = "font-medium text-primary underline underline-offset-2 hover:no-underline";

function InvoiceRow({ invoice }: { invoice: Invoice }) {
  const [label, tone] = STATUS[invoice.status];
  const name = invoice.number ?? "Invoice";
  const amount = invoice.status === "paid" ? invoice.amountPaid : invoice.amountDue;
  return (
    <tr className="border-t border-border">
      <td className="py-2 pr-4 font-medium">{name}</td>
      <td className="py-2 pr-4 whitespace-nowrap">{longDate(invoice.paidAt ?? invoice.createdAt)}</td>
      <td className="py-2 pr-4 text-right tabular-nums whitespace-nowrap">{money(amount, invoice.currency)}</td>
      <td className={cn("py-2 pr-4 font-medium", tone)}>{label}</td>
      <td className="py-2">
        <span className="flex flex-wrap gap-3">
          {invoice.hostedInvoiceUrl && (
            <a href={invoice.hostedInvoiceUrl} target="_blank" rel="noopener noreferrer" className={link}>
              {invoice.status === "open" ? "Pay" : "View"}
              <span className="sr-only"> invoice {name} (opens in a new tab)</span>
            </a>
          )}
          {invoice.invoicePdf && (
            <a href={invoice.invoicePdf} target="_blank" rel="noopener noreferrer" className={link}>
              PDF
              <span className="sr-only"> of invoice {name} (opens in a new tab)</span>
            </a>
          )}
        </span>
      </td>
    </tr>
  );
}

/** The organization's invoices, newest first (owners only, as the API). */
export function Invoices({ organizationId }: { organizationId: string }) {
  const invoices = useInvoices(organizationId);
  const items = invoices.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Section title="Invoices" description="Every invoice of this organization's subscription, newest first.">
      {invoices.isLoading ? (
        <Skeleton className="h-20 w-full" />
      ) : invoices.error ? (
        <FormError message={invoices.error.message} />
      ) : items.length === 0 ? (
        <EmptyState>No invoices yet: they appear here once you upgrade.</EmptyState>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm">
            <caption className="sr-only">Invoices</caption>
            <thead className="text-muted-foreground">
              <tr>
                <th scope="col" className="py-2 pr-4 font-medium">Number</th>
                <th scope="col" className="py-2 pr-4 font-medium">Date</th>
                <th scope="col" className="py-2 pr-4 text-right font-medium">Amount</th>
                <th scope="col" className="py-2 pr-4 font-medium">Status</th>
                <th scope="col" className="py-2 font-medium">
                  <span className="sr-only">Links</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((invoice) => (
                <InvoiceRow key={invoice.id} invoice={invoice} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {invoices.hasNextPage && (
        <Button variant="secondary" size="sm" className="mt-3" onClick={() => void invoices.fetchNextPage()} busy={invoices.isFetchingNextPage}>
          Show more
        </Button>
      )}
    </Section>
  );
}
