import { Toast } from "radix-ui";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { cn } from "@/lib/cn";

interface ToastItem {
  id: number;
  title: string;
  description?: string;
  tone: "error" | "success" | "info";
}

interface ToastApi {
  show: (toast: Omit<ToastItem, "id">) => void;
  error: (description: string, title?: string) => void;
  success: (title: string, description?: string) => void;
}

const ToastContext = createContext<ToastApi | null>(null);
let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<ToastItem[]>([]);
  const show = useCallback((toast: Omit<ToastItem, "id">) => {
    setToasts((current) => [...current.slice(-3), { ...toast, id: nextId++ }]);
  }, []);
  const value = useMemo<ToastApi>(
    () => ({
      show,
      error: (description, title = "That did not work") => show({ title, description, tone: "error" }),
      success: (title, description) => show({ title, description, tone: "success" }),
    }),
    [show],
  );
  return (
    <ToastContext.Provider value={value}>
      <Toast.Provider swipeDirection="right" duration={6000}>
        {children}
        {toasts.map((toast) => (
          <Toast.Root
            key={toast.id}
            type={toast.tone === "error" ? "foreground" : "background"}
            onOpenChange={(open) => {
              if (!open) setToasts((current) => current.filter((t) => t.id !== toast.id));
            }}
            className={cn(
              "rounded-lg border bg-surface-raised p-4 shadow-lg",
              toast.tone === "error" ? "border-danger/50" : "border-border",
            )}
          >
            <Toast.Title className={cn("text-sm font-semibold", toast.tone === "error" && "text-danger")}>
              {toast.title}
            </Toast.Title>
            {toast.description && (
              <Toast.Description className="mt-1 text-sm text-muted-foreground">{toast.description}</Toast.Description>
            )}
          </Toast.Root>
        ))}
        <Toast.Viewport className="fixed bottom-4 right-4 z-[60] flex w-[min(24rem,calc(100vw-2rem))] flex-col gap-2 outline-none" />
      </Toast.Provider>
    </ToastContext.Provider>
  );
}

export function useToast(): ToastApi {
  const context = useContext(ToastContext);
  if (!context) throw new Error("useToast outside ToastProvider");
  return context;
}
