import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from "react";
import { api, unwrap } from "@/api/client";
import { getUser, refreshSession, setSession, subscribe, type SessionUser } from "@/api/session";

type Status = "restoring" | "signed-in" | "signed-out";

interface AuthApi {
  status: Status;
  user: SessionUser | null;
  signIn: (email: string, password: string, rememberMe: boolean) => Promise<void>;
  signOut: () => Promise<void>;
  signOutEverywhere: () => Promise<void>;
}

const AuthContext = createContext<AuthApi | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const user = useSyncExternalStore(subscribe, getUser);
  const [restored, setRestored] = useState(false);
  const queryClient = useQueryClient();

  useEffect(() => {
    // A reload has no access token in memory: the refresh cookie (if any) brings the session back.
    void refreshSession().finally(() => setRestored(true));
  }, []);

  const signIn = useCallback(async (email: string, password: string, rememberMe: boolean) => {
    const session = await unwrap(api.POST("/api/auth/login", { body: { email, password, rememberMe } }));
    setSession(session.accessToken, session.user);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.POST("/api/auth/logout", { body: {} });
    } finally {
      setSession(null, null);
      queryClient.clear();
    }
  }, [queryClient]);

  // Every session of the account ends, this one included (a stolen password or a lost laptop).
  const signOutEverywhere = useCallback(async () => {
    try {
      await api.POST("/api/auth/logout-all");
    } finally {
      setSession(null, null);
      queryClient.clear();
    }
  }, [queryClient]);

  const value = useMemo<AuthApi>(
    () => ({ status: !restored ? "restoring" : user ? "signed-in" : "signed-out", user, signIn, signOut, signOutEverywhere }),
    [restored, user, signIn, signOut, signOutEverywhere],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthApi {
  const context = useContext(AuthContext);
  if (!context) throw new Error("useAuth outside AuthProvider");
  return context;
}
