--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.accounts (
    name text NOT NULL,
    password_hash text NOT NULL,
    admin boolean DEFAULT false NOT NULL,
    quota_bytes bigint,
    quota_uploads integer,
    created_at double precision NOT NULL
);


--
-- Name: chunks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.chunks (
    upload_id text NOT NULL,
    idx integer NOT NULL
);


--
-- Name: claims; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.claims (
    name text NOT NULL,
    upload_id text,
    holder text NOT NULL,
    instance text NOT NULL,
    expires_at double precision NOT NULL
);


--
-- Name: contents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.contents (
    sha256 text NOT NULL,
    size bigint NOT NULL,
    refs integer NOT NULL,
    state text NOT NULL
);


--
-- Name: instances; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.instances (
    id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    seen_at double precision NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at double precision NOT NULL
);


--
-- Name: tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tokens (
    digest text NOT NULL,
    account text NOT NULL,
    label text NOT NULL,
    created_at double precision NOT NULL,
    last_used double precision
);


--
-- Name: uploads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.uploads (
    id text NOT NULL,
    client_id text,
    owner text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size bigint,
    chunk_size bigint,
    chunk_count integer,
    received integer DEFAULT 0 NOT NULL,
    state text NOT NULL,
    sha256 text,
    download_token text,
    storage_key text,
    error text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    protocol text DEFAULT 'dropzone'::text NOT NULL,
    stream_offset bigint DEFAULT 0 NOT NULL,
    metadata text,
    concat text,
    rewrites integer DEFAULT 0 NOT NULL,
    lifetime double precision,
    expires_at double precision,
    removed_at double precision,
    freed_bytes bigint,
    content text,
    address text,
    account text,
    relative_path text,
    download_password text,
    max_downloads integer,
    downloads integer DEFAULT 0 NOT NULL,
    delete_key text
);


--
-- Data for Name: accounts; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: chunks; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.chunks VALUES ('9da52f0d88bdadead2d3d6a83b42f6f5', 0);
INSERT INTO public.chunks VALUES ('b0020d9f3572dfe6cc494643223fed2d', 0);
INSERT INTO public.chunks VALUES ('42da846f47cf85b5681fff8afee34ec6', 0);
INSERT INTO public.chunks VALUES ('f6e37bfc5436a17a9bf3707637345545', 0);


--
-- Data for Name: claims; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: contents; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.contents VALUES ('b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', 2200, 2, 'present');
INSERT INTO public.contents VALUES ('db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', 600, 1, 'present');


--
-- Data for Name: instances; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (1, 'uploads', 1796286612.310463);
INSERT INTO public.schema_migrations VALUES (2, 'streams', 1796286612.3121092);
INSERT INTO public.schema_migrations VALUES (3, 'claims', 1796286612.3161066);
INSERT INTO public.schema_migrations VALUES (4, 'expiry', 1796286612.3175526);
INSERT INTO public.schema_migrations VALUES (5, 'contents', 1796286612.32125);
INSERT INTO public.schema_migrations VALUES (6, 'access', 1796286612.3262005);


--
-- Data for Name: tokens; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: uploads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.uploads VALUES ('f6e37bfc5436a17a9bf3707637345545', 'e91ce74b-ac9b-4513-b4c0-a613229b011c', 'b82060bc12d02aa07557f8de2bc0985400aeca8d9494750354464b3a3ead3ac6', 'half.bin', '', 2000, 1000, 2, 1, 'receiving', NULL, NULL, NULL, NULL, 1796286612.5020962, 1796286612.5055249, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, '127.0.0.1', NULL, NULL, NULL, NULL, 0, '_LsGuy4Cg3nYCxe0vzi1cyrKkeHWMxu8');
INSERT INTO public.uploads VALUES ('9da52f0d88bdadead2d3d6a83b42f6f5', '9907cc3d-53b8-488a-afaa-f9c16bdf0e1e', 'b82060bc12d02aa07557f8de2bc0985400aeca8d9494750354464b3a3ead3ac6', 'same.bin', '', 2200, 2200, 1, 1, 'complete', 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', 'kaE75SQlDhf28Ruf3zWpaYXL8wtxQZ3_', 'b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', NULL, 1796286612.4517107, 1796286612.4649732, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', '127.0.0.1', NULL, NULL, NULL, NULL, 0, 'Nc39bsi5lVtY-CNuD5m6fpTkoZBpPqz5');
INSERT INTO public.uploads VALUES ('b0020d9f3572dfe6cc494643223fed2d', '40289b5d-3d48-4f27-90f7-4ad75cd83a36', 'b82060bc12d02aa07557f8de2bc0985400aeca8d9494750354464b3a3ead3ac6', 'again.bin', '', 2200, 2200, 1, 1, 'complete', 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', 'IIqIhsjON5V4AoTKq4Qht0Hu03b2EwpT', 'b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', NULL, 1796286612.4740918, 1796286612.481754, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', '127.0.0.1', NULL, NULL, NULL, NULL, 0, 'vZWbAlXskWTmWaFn7nIEkc5n62qbP8L_');
INSERT INTO public.uploads VALUES ('42da846f47cf85b5681fff8afee34ec6', '07db2ca7-93a9-4dac-a90d-af5d899f0f69', 'b82060bc12d02aa07557f8de2bc0985400aeca8d9494750354464b3a3ead3ac6', 'other.bin', '', 600, 600, 1, 1, 'complete', 'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', 'owmDKpQS37Jep_IxGbn88-3OGZ28kcvp', 'db/74/db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', NULL, 1796286612.4888768, 1796286612.4967015, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', '127.0.0.1', NULL, NULL, NULL, NULL, 0, 'zibrVUzi6UcLOZh8u1aZfWOax3a1D6rj');


--
-- Name: accounts accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (name);


--
-- Name: chunks chunks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chunks
    ADD CONSTRAINT chunks_pkey PRIMARY KEY (upload_id, idx);


--
-- Name: claims claims_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.claims
    ADD CONSTRAINT claims_pkey PRIMARY KEY (name);


--
-- Name: contents contents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contents
    ADD CONSTRAINT contents_pkey PRIMARY KEY (sha256);


--
-- Name: instances instances_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.instances
    ADD CONSTRAINT instances_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: tokens tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_pkey PRIMARY KEY (digest);


--
-- Name: uploads uploads_client_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_client_id_key UNIQUE (client_id);


--
-- Name: uploads uploads_download_token_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_download_token_key UNIQUE (download_token);


--
-- Name: uploads uploads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (id);


--
-- Name: claims_instance; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claims_instance ON public.claims USING btree (instance);


--
-- Name: claims_upload; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claims_upload ON public.claims USING btree (upload_id);


--
-- Name: contents_removing; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX contents_removing ON public.contents USING btree (state) WHERE (state = 'removing'::text);


--
-- Name: tokens_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_account ON public.tokens USING btree (account);


--
-- Name: uploads_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_account ON public.uploads USING btree (account, state);


--
-- Name: uploads_content; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_content ON public.uploads USING btree (content);


--
-- Name: uploads_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_expiry ON public.uploads USING btree (expires_at) WHERE (state = 'complete'::text);


--
-- Name: uploads_open_address; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_open_address ON public.uploads USING btree (address) WHERE (state = 'receiving'::text);


--
-- Name: uploads_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_state ON public.uploads USING btree (state);


--
-- Name: chunks chunks_upload_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chunks
    ADD CONSTRAINT chunks_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.uploads(id) ON DELETE CASCADE;


--
-- Name: claims claims_upload_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.claims
    ADD CONSTRAINT claims_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.uploads(id) ON DELETE CASCADE;


--
-- Name: tokens tokens_account_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_account_fkey FOREIGN KEY (account) REFERENCES public.accounts(name) ON DELETE CASCADE;


--
-- Name: uploads uploads_content_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_content_fkey FOREIGN KEY (content) REFERENCES public.contents(sha256);


--
-- PostgreSQL database dump complete
--


