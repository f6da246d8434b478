import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { api, ApiError, errorText, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError } from "@/components/ui/field";
import { Menu, MenuContent, MenuItem, MenuTrigger } from "@/components/ui/menu";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { ACTION_VERBS, splitAnswer, type AnswerPart } from "./answer";
import type { PanelProps } from "./workspace";

type Message = components["schemas"]["Message"];
type Job = components["schemas"]["Job"];
type Chat = components["schemas"]["Chat"];

const FINISHED = new Set(["succeeded", "failed", "canceled"]);

type Model = components["schemas"]["AvailableModel"];

const chatsQuery = (projectId: string) => ({
  queryKey: ["chats", projectId],
  queryFn: () => unwrap(api.GET("/api/projects/{id}/chats", { params: { path: { id: projectId }, query: { limit: 100 } } })),
});

const modelsQuery = { queryKey: ["models"], queryFn: () => unwrap(api.GET("/api/ai/models")) };

function useChats(projectId: string) {
  return useQuery({ ...chatsQuery(projectId), select: (page) => page.items });
}

// The chat the panel shows: the one last chosen in this browser, else the first of the list.
const chosenChatKey = (projectId: string) => `mm.chat.${projectId}`;

/** The model a message is sent with: the one last picked in this browser, else the first with a key. */
function chosenModel(models: Model[], preferredId: string | null): Model | undefined {
  return models.find((m) => m.id === preferredId) ?? models.find((m) => m.keySource !== "none") ?? models[0];
}

/** Sends a message as the composer would (build mode, the model last picked in this browser) into the chat the
 * Chat panel shows, starting one when the project has none. The panel follows the answer from the chat's active
 * job; approving it is the usual flow. */
export function usePostToChat(projectId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (content: string) => {
      const chats = (await queryClient.fetchQuery(chatsQuery(projectId))).items;
      let chat = chats.find((c) => c.id === localStorage.getItem(chosenChatKey(projectId))) ?? chats[0];
      if (!chat) {
        chat = (await unwrap(api.POST("/api/projects/{id}/chats", { params: { path: { id: projectId } }, body: {} }))).chat;
        localStorage.setItem(chosenChatKey(projectId), chat.id);
      }
      const model = chosenModel((await queryClient.fetchQuery(modelsQuery)).items, localStorage.getItem("mm.model"));
      const posted = await unwrap(
        api.POST("/api/chats/{id}/messages", { params: { path: { id: chat.id } }, body: { content, mode: "build", ...(model ? { modelId: model.id } : {}) } }),
      );
      return { chatId: chat.id, job: posted.job };
    },
    onSuccess: ({ chatId, job }) => {
      queryClient.setQueryData<components["schemas"]["ChatPage"]>(["chats", projectId], (page) =>
        page ? { ...page, items: page.items.map((item) => (item.id === chatId ? { ...item, activeJobId: job.id } : item)) } : page,
      );
      void queryClient.invalidateQueries({ queryKey: ["messages", chatId] });
      void queryClient.invalidateQueries({ queryKey: ["chats", projectId] });
    },
  });
}

async function allMessages(chatId: string): Promise<Message[]> {
  const items: Message[] = [];
  let cursor: string | null | undefined = null;
  do {
    const page: components["schemas"]["MessagePage"] = await unwrap(
      api.GET("/api/chats/{id}/messages", { params: { path: { id: chatId }, query: { limit: 100, ...(cursor ? { cursor } : {}) } } }),
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < 2000);
  return items;
}

// Drawn, not an emoji: systems without a colour emoji font show a box.
function FileIcon() {
  return (
    <svg viewBox="0 0 16 16" className="h-3.5 w-3.5 text-muted-foreground" fill="none" stroke="currentColor" strokeWidth="1.4" aria-hidden="true">
      <path d="M4 1.5h5l3.5 3.5v9.5h-8.5z" strokeLinejoin="round" />
      <path d="M9 1.5V5h3.5" strokeLinejoin="round" />
    </svg>
  );
}

/** Follows a job's streamed output: polls from the last character seen until it ends. The chat's
 * `activeJobId` (from the server) resumes a running answer after a reload, in another tab, or for a
 * teammate watching the same chat. */
function useJobStream(chatId: string | undefined, activeJobId: string | null | undefined, onFinished: (job: Job) => void) {
  const [jobId, setJobId] = useState<string | null>(activeJobId ?? null);
  const [output, setOutput] = useState("");
  const [job, setJob] = useState<Job | null>(null);
  const finishedRef = useRef(onFinished);
  finishedRef.current = onFinished;

  useEffect(() => {
    setJobId(activeJobId ?? null);
    setOutput("");
    setJob(null);
    // Only a change of chat starts over; a new active job of the same chat is picked up below.
  }, [chatId]);

  useEffect(() => {
    if (activeJobId) setJobId(activeJobId);
  }, [activeJobId]);

  useEffect(() => {
    if (!jobId || !chatId) return;
    let stopped = false;
    let since = 0;
    let text = "";
    const poll = async () => {
      while (!stopped) {
        try {
          const current = await unwrap(api.GET("/api/jobs/{id}", { params: { path: { id: jobId }, query: { since } } }));
          text = text.slice(0, current.job.outputOffset) + current.job.output;
          since = current.job.outputOffset + current.job.outputLength;
          if (stopped) return;
          setOutput(text);
          setJob(current.job);
          if (FINISHED.has(current.job.status)) {
            finishedRef.current(current.job);
            return;
          }
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) {
            setJobId(null);
            return;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    void poll();
    return () => {
      stopped = true;
    };
  }, [jobId, chatId]);

  const follow = (id: string) => {
    setOutput("");
    setJob(null);
    setJobId(id);
  };
  const running = Boolean(jobId) && !(job && FINISHED.has(job.status));
  return { jobId, job, output, running, follow, clear: () => setJobId(null) };
}

function FileCard({ part }: { part: Extract<AnswerPart, { kind: "file" }> }) {
  const verbs = ACTION_VERBS[part.action] ?? ["Changing", "Changed"];
  return (
    <div className="my-2 rounded-md border border-border bg-muted/40 px-3 py-2 text-sm" data-testid="file-card">
      <div className="flex items-center gap-2">
        {part.open ? <Spinner className="h-3.5 w-3.5" /> : <FileIcon />}
        <span className="font-medium">{part.open ? `${verbs[0]} ${part.path}…` : `${verbs[1]} ${part.path}`}</span>
      </div>
      {part.from && <p className="text-xs text-muted-foreground">from {part.from}</p>}
      {part.description && <p className="text-xs text-muted-foreground">{part.description}</p>}
    </div>
  );
}

function AnswerView({ text }: { text: string }) {
  const parts = useMemo(() => splitAnswer(text), [text]);
  return (
    <div className="prose-sm max-w-none break-words [&_code]:rounded [&_code]:bg-muted [&_code]:px-1 [&_pre]:overflow-x-auto [&_pre]:rounded [&_pre]:bg-muted [&_pre]:p-2 [&_a]:text-primary [&_ul]:list-disc [&_ul]:pl-5 [&_ol]:list-decimal [&_ol]:pl-5 [&_p]:my-1.5">
      {parts.map((part, index) =>
        part.kind === "text" ? (
          <Markdown key={index} remarkPlugins={[remarkGfm]}>
            {part.text}
          </Markdown>
        ) : part.kind === "file" ? (
          <FileCard key={index} part={part} />
        ) : (
          <p key={index} className="text-xs text-muted-foreground">
            Summary: {part.text}
          </p>
        ),
      )}
    </div>
  );
}

function ProposalView({ message, canDecide, onDecided }: { message: Message; canDecide: boolean; onDecided: () => void }) {
  const toast = useToast();
  const proposal = message.proposal;
  const decide = useMutation({
    mutationFn: (decision: "approve" | "reject") =>
      decision === "approve"
        ? unwrap(api.POST("/api/messages/{id}/approve", { params: { path: { id: message.id } } }))
        : unwrap(api.POST("/api/messages/{id}/reject", { params: { path: { id: message.id } } })),
    onSuccess: (_, decision) => {
      toast.success(decision === "approve" ? "Changes applied" : "Changes declined");
      onDecided();
    },
    onError: (error) => toast.error(errorText(error)),
  });
  if (!proposal || message.approvalState === null) return null;
  const dependencies = Object.entries(proposal.dependencies ?? {});
  return (
    <div className="mt-3 rounded-md border border-border" data-testid="proposal">
      <div className="flex items-center justify-between border-b border-border px-3 py-2">
        <span className="text-sm font-medium">{proposal.title || "Proposed changes"}</span>
        <span
          className={cn(
            "rounded-full px-2 py-0.5 text-xs",
            message.approvalState === "approved" && "bg-green-100 text-green-800 dark:bg-green-900/40 dark:text-green-200",
            message.approvalState === "rejected" && "bg-muted text-muted-foreground",
            message.approvalState === "pending" && "bg-amber-100 text-amber-900 dark:bg-amber-900/40 dark:text-amber-100",
          )}
        >
          {message.approvalState === "pending" ? "Waiting for approval" : message.approvalState === "approved" ? "Applied" : "Declined"}
        </span>
      </div>
      <ul className="divide-y divide-border text-sm">
        {proposal.files.map((file, index) => (
          <li key={index} className="flex flex-wrap items-baseline gap-2 px-3 py-1.5">
            <span className="w-16 shrink-0 text-xs uppercase text-muted-foreground">{file.action}</span>
            <span className="font-mono text-xs">
              {file.from ? `${file.from} → ` : ""}
              {file.path}
            </span>
            {!file.ok && <span className="w-full text-xs text-danger">Skipped: {file.error}</span>}
          </li>
        ))}
        {dependencies.map(([name, version]) => (
          <li key={name} className="flex gap-2 px-3 py-1.5">
            <span className="w-16 shrink-0 text-xs uppercase text-muted-foreground">package</span>
            <span className="font-mono text-xs">
              {name}@{version}
            </span>
          </li>
        ))}
      </ul>
      {message.approvalState === "pending" && canDecide && (
        <div className="flex justify-end gap-2 border-t border-border px-3 py-2">
          <Button variant="secondary" size="sm" onClick={() => decide.mutate("reject")} busy={decide.isPending && decide.variables === "reject"}>
            Reject
          </Button>
          <Button size="sm" onClick={() => decide.mutate("approve")} busy={decide.isPending && decide.variables === "approve"}>
            Approve
          </Button>
        </div>
      )}
    </div>
  );
}

function MessageView({ message, canDecide, onDecided }: { message: Message; canDecide: boolean; onDecided: () => void }) {
  const usage = (message.metadata as { usage?: { promptTokens?: number | null; completionTokens?: number | null } } | null)?.usage;
  if (message.role === "user") {
    return (
      <div className="ml-auto max-w-[85%] whitespace-pre-wrap rounded-lg bg-primary px-3 py-2 text-sm text-primary-foreground" data-testid="user-message">
        {message.content}
      </div>
    );
  }
  return (
    <div className="rounded-lg border border-border bg-surface px-3 py-2 text-sm" data-testid="assistant-message">
      <AnswerView text={message.content} />
      <ProposalView message={message} canDecide={canDecide} onDecided={onDecided} />
      {usage && (usage.promptTokens || usage.completionTokens) ? (
        <p className="mt-2 text-xs text-muted-foreground">
          {(usage.promptTokens ?? 0).toLocaleString()} tokens in · {(usage.completionTokens ?? 0).toLocaleString()} out
        </p>
      ) : null}
    </div>
  );
}

function ContextPreviewDialog({ chatId, prompt, modelId, open, onOpenChange }: { chatId: string; prompt: string; modelId?: string; open: boolean; onOpenChange: (o: boolean) => void }) {
  const preview = useQuery({
    queryKey: ["context-preview", chatId, prompt, modelId],
    enabled: open,
    queryFn: () =>
      unwrap(api.GET("/api/chats/{id}/context-preview", { params: { path: { id: chatId }, query: { prompt, ...(modelId ? { modelId } : {}) } } })),
  });
  const data = preview.data;
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="What the AI would see" description="The files and history a message sends, within the model's window." wide>
      {preview.isLoading ? (
        <Skeleton className="h-32 w-full" />
      ) : preview.error ? (
        <FormError message={errorText(preview.error)} />
      ) : data ? (
        <div className="space-y-3 text-sm">
          <p>
            {(data.systemTokens + data.historyTokens + data.fileTokens).toLocaleString()} of {data.budget.toLocaleString()} tokens: rules {data.systemTokens.toLocaleString()}, history{" "}
            {data.historyTokens.toLocaleString()}, files {data.fileTokens.toLocaleString()}.
          </p>
          <h3 className="font-medium">Files sent whole ({data.included.length})</h3>
          <ul className="max-h-64 overflow-y-auto font-mono text-xs">
            {data.included.map((file) => (
              <li key={file.path}>
                {file.path} <span className="text-muted-foreground">({file.tokens} tokens)</span>
              </li>
            ))}
          </ul>
          {data.listed.length > 0 && (
            <>
              <h3 className="font-medium">Listed by name only ({data.listed.length})</h3>
              <ul className="max-h-40 overflow-y-auto font-mono text-xs text-muted-foreground">
                {data.listed.map((path) => (
                  <li key={path}>{path}</li>
                ))}
              </ul>
            </>
          )}
        </div>
      ) : null}
    </Dialog>
  );
}

const KEY_LABEL: Record<string, string> = { user: "your key", platform: "platform key", none: "no key" };

function Composer({ chat, running, onPosted, onCancel, project }: { chat: Chat; running: boolean; onPosted: (job: Job) => void; onCancel: () => void; project: PanelProps["project"] }) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const [content, setContent] = useState("");
  const [mode, setMode] = useState<"build" | "ask">("build");
  const [modelId, setModelId] = useState<string>(() => localStorage.getItem("mm.model") ?? "");
  const [previewing, setPreviewing] = useState(false);
  const models = useQuery({ ...modelsQuery, select: (list) => list.items });
  const usable = models.data ?? [];
  const selected = chosenModel(usable, modelId);
  const post = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/chats/{id}/messages", { params: { path: { id: chat.id } }, body: { content, mode, ...(selected ? { modelId: selected.id } : {}) } })),
    onSuccess: (posted) => {
      setContent("");
      void queryClient.invalidateQueries({ queryKey: ["messages", chat.id] });
      onPosted(posted.job);
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const autoApprove = useMutation({
    mutationFn: (value: boolean) => unwrap(api.PATCH("/api/projects/{id}", { params: { path: { id: project.id } }, body: { autoApprove: value } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["project", project.id] }),
    onError: (error) => toast.error(errorText(error)),
  });
  const send = () => {
    if (content.trim() && !running) post.mutate();
  };
  return (
    <div className="border-t border-border bg-surface p-3">
      <label htmlFor="composer" className="sr-only">
        Message
      </label>
      <textarea
        id="composer"
        value={content}
        onChange={(e) => setContent(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault();
            send();
          }
        }}
        rows={3}
        placeholder={mode === "build" ? "Describe what to build or change…" : "Ask about the code (nothing is changed)…"}
        className="w-full resize-none rounded-md border border-border bg-background px-3 py-2 text-sm focus:outline-none focus:ring-2 focus:ring-ring"
      />
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <label className="sr-only" htmlFor="model">
          Model
        </label>
        <select
          id="model"
          value={selected?.id ?? ""}
          onChange={(e) => {
            setModelId(e.target.value);
            localStorage.setItem("mm.model", e.target.value);
          }}
          className="h-8 max-w-48 rounded-md border border-border bg-surface px-2 text-xs"
        >
          {usable.map((model) => (
            <option key={model.id} value={model.id} disabled={model.keySource === "none"}>
              {model.displayName} ({KEY_LABEL[model.keySource]})
            </option>
          ))}
        </select>
        <label className="sr-only" htmlFor="mode">
          Mode
        </label>
        <select id="mode" value={mode} onChange={(e) => setMode(e.target.value as "build" | "ask")} className="h-8 rounded-md border border-border bg-surface px-2 text-xs">
          <option value="build">Build</option>
          <option value="ask">Ask</option>
        </select>
        <label className="flex items-center gap-1.5 text-xs">
          <input
            type="checkbox"
            className="h-3.5 w-3.5 accent-primary"
            checked={project.autoApprove}
            onChange={(e) => autoApprove.mutate(e.target.checked)}
          />
          Auto-approve
        </label>
        <Button variant="ghost" size="sm" onClick={() => setPreviewing(true)} disabled={!content.trim()}>
          Context
        </Button>
        <div className="ml-auto flex gap-2">
          {running ? (
            <Button variant="secondary" size="sm" onClick={onCancel}>
              Stop
            </Button>
          ) : (
            <Button size="sm" onClick={send} busy={post.isPending} disabled={!content.trim()}>
              Send
            </Button>
          )}
        </div>
      </div>
      <ContextPreviewDialog chatId={chat.id} prompt={content} modelId={selected?.id} open={previewing} onOpenChange={setPreviewing} />
    </div>
  );
}

function Thread({ chat, props }: { chat: Chat; props: PanelProps }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const messages = useQuery({ queryKey: ["messages", chat.id], queryFn: () => allMessages(chat.id) });
  const refreshAfterChange = () => {
    void queryClient.invalidateQueries({ queryKey: ["messages", chat.id] });
    void queryClient.invalidateQueries({ queryKey: ["files", props.project.id] });
    void queryClient.invalidateQueries({ queryKey: ["versions", props.project.id] });
    void queryClient.invalidateQueries({ queryKey: ["chats", props.project.id] });
  };
  // The cached chat list learns of the new job at once: a remounted thread (the narrow layout
  // swaps panes) resumes the stream from it instead of waiting for the next refetch.
  const followJob = (job: Job) => {
    queryClient.setQueryData<components["schemas"]["ChatPage"]>(["chats", props.project.id], (page) =>
      page ? { ...page, items: page.items.map((item) => (item.id === chat.id ? { ...item, activeJobId: job.id } : item)) } : page,
    );
    stream.follow(job.id);
  };
  const stream = useJobStream(chat.id, chat.activeJobId, (job) => {
    if (job.status === "failed") toast.error(job.error?.message ?? "The AI could not answer.", "The answer failed");
    refreshAfterChange();
  });
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST("/api/jobs/{id}/cancel", { params: { path: { id: stream.jobId! } } })),
    onError: (error) => toast.error(errorText(error)),
  });
  const undo = useMutation({
    mutationFn: () => unwrap(api.POST("/api/chats/{id}/undo", { params: { path: { id: chat.id } } })),
    onSuccess: () => {
      toast.success("Undone", "The files are back as they were before the last applied answer.");
      refreshAfterChange();
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const retry = useMutation({
    mutationFn: () => unwrap(api.POST("/api/chats/{id}/retry", { params: { path: { id: chat.id } } })),
    onSuccess: (posted) => {
      refreshAfterChange();
      followJob(posted.job);
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const bottom = useRef<HTMLDivElement>(null);
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [messages.data, stream.output]);
  const items = messages.data ?? [];
  const streamingShown = stream.running || (stream.job && !items.some((m) => m.id === stream.job?.assistantMessageId));
  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="min-h-0 flex-1 space-y-3 overflow-y-auto p-3" aria-live="polite">
        {messages.isLoading && <Skeleton className="h-24 w-full" />}
        {!messages.isLoading && items.length === 0 && !stream.running && (
          <div className="mt-10 text-center text-sm text-muted-foreground">
            <p className="font-medium text-foreground">Describe what you want to build.</p>
            <p className="mt-1">For example: “add an about page with a short team bio”. Each answer becomes a version you can diff and restore.</p>
          </div>
        )}
        {items.map((message) => (
          <MessageView key={message.id} message={message} canDecide={props.access.edit} onDecided={refreshAfterChange} />
        ))}
        {streamingShown && stream.jobId && (
          <div className="rounded-lg border border-border bg-surface px-3 py-2 text-sm" data-testid="streaming-answer">
            {stream.output ? <AnswerView text={stream.output} /> : <p className="flex items-center gap-2 text-muted-foreground"><Spinner className="h-4 w-4" /> Thinking…</p>}
            {stream.running && stream.output && (
              <p className="mt-1 flex items-center gap-2 text-xs text-muted-foreground">
                <Spinner className="h-3 w-3" /> Writing…
              </p>
            )}
          </div>
        )}
        <div ref={bottom} />
      </div>
      {props.access.edit && items.length > 0 && !stream.running && (
        <div className="flex gap-2 border-t border-border px-3 py-1.5">
          <Button variant="ghost" size="sm" onClick={() => undo.mutate()} busy={undo.isPending}>
            Undo last change
          </Button>
          <Button variant="ghost" size="sm" onClick={() => retry.mutate()} busy={retry.isPending}>
            Retry
          </Button>
        </div>
      )}
      {props.access.edit ? (
        <Composer chat={chat} project={props.project} running={stream.running} onPosted={followJob} onCancel={() => cancel.mutate()} />
      ) : (
        <p className="border-t border-border p-3 text-sm text-muted-foreground">You can read this chat; your role does not allow editing this project.</p>
      )}
    </div>
  );
}

export function ChatPanel(props: PanelProps) {
  const { project, access } = props;
  const queryClient = useQueryClient();
  const toast = useToast();
  const chats = useChats(project.id);
  const [chosen, setChosen] = useState<string | null>(() => localStorage.getItem(chosenChatKey(project.id)));
  const [renaming, setRenaming] = useState<Chat | null>(null);
  const [title, setTitle] = useState("");
  const list = chats.data ?? [];
  const chat = list.find((c) => c.id === chosen) ?? list[0];
  const choose = (id: string) => {
    localStorage.setItem(chosenChatKey(project.id), id);
    setChosen(id);
  };
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/projects/{id}/chats", { params: { path: { id: project.id } }, body: {} })),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ["chats", project.id] });
      choose(created.chat.id);
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const rename = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/chats/{id}", { params: { path: { id: renaming!.id } }, body: { title } })),
    onSuccess: () => {
      setRenaming(null);
      void queryClient.invalidateQueries({ queryKey: ["chats", project.id] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/chats/{id}", { params: { path: { id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["chats", project.id] }),
    onError: (error) => toast.error(errorText(error)),
  });
  return (
    <div className="flex h-full flex-col">
      <div className="flex items-center gap-2 border-b border-border px-3 py-2">
        {list.length > 0 && chat ? (
          <Menu>
            <MenuTrigger asChild>
              <Button variant="ghost" size="sm" className="min-w-0 max-w-64 justify-start" aria-label={`Chat: ${chat.title ?? "Untitled chat"}. Switch chat`}>
                <span className="truncate">{chat.title ?? "Untitled chat"}</span>
                <span aria-hidden="true">▾</span>
              </Button>
            </MenuTrigger>
            <MenuContent align="start">
              {list.map((item) => (
                <MenuItem key={item.id} onSelect={() => choose(item.id)}>
                  <span className="truncate">{item.title ?? "Untitled chat"}</span>
                </MenuItem>
              ))}
            </MenuContent>
          </Menu>
        ) : (
          <span className="text-sm text-muted-foreground">{chats.isLoading ? "Loading chats…" : "No chat yet"}</span>
        )}
        {access.edit && (
          <div className="ml-auto flex gap-1">
            {chat && (
              <>
                <Button
                  variant="ghost"
                  size="sm"
                  onClick={() => {
                    setTitle(chat.title ?? "");
                    setRenaming(chat);
                  }}
                >
                  Rename
                </Button>
                <Button variant="ghost" size="sm" onClick={() => remove.mutate(chat.id)} aria-label="Delete this chat">
                  Delete
                </Button>
              </>
            )}
            <Button variant="secondary" size="sm" onClick={() => create.mutate()} busy={create.isPending}>
              New chat
            </Button>
          </div>
        )}
      </div>
      {chat ? (
        <Thread key={chat.id} chat={chat} props={props} />
      ) : (
        !chats.isLoading && (
          <div className="flex flex-1 items-center justify-center p-6 text-center text-sm text-muted-foreground">
            {access.edit ? (
              <div>
                <p>Start a chat to build with the AI.</p>
                <Button className="mt-3" onClick={() => create.mutate()} busy={create.isPending}>
                  Start a chat
                </Button>
              </div>
            ) : (
              <p>No chats in this project yet.</p>
            )}
          </div>
        )
      )}
      <Dialog open={renaming !== null} onOpenChange={(open) => !open && setRenaming(null)} title="Rename chat">
        <form
          className="space-y-4"
          onSubmit={(event) => {
            event.preventDefault();
            rename.mutate();
          }}
        >
          <FormError message={rename.error ? errorText(rename.error) : null} />
          <label className="block text-sm font-medium" htmlFor="chat-title">
            Title
          </label>
          <input id="chat-title" value={title} onChange={(e) => setTitle(e.target.value)} className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm" />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => setRenaming(null)}>
              Cancel
            </Button>
            <Button type="submit" busy={rename.isPending}>
              Save
            </Button>
          </div>
        </form>
      </Dialog>
    </div>
  );
}
